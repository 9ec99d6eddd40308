#!/usr/bin/env python3
"""Reference for `honnin bench registry`'s import figure: the same schema and batch size,
driven by Python's sqlite3 executemany (a C loop with minimal per-row overhead).

usage: scripts/sqlite-import-reference.py N WITH_EVENTS(0|1)
"""
import sqlite3, time, random, json, re, sys, os, tempfile
DB=os.path.join(tempfile.mkdtemp(), 'ref.sqlite')
sql=open(os.path.join(os.path.dirname(__file__), '..', 'crates/honnin-store/migrations/0001_initial.sql')).read()
sql=re.sub(r'--[^\n]*','',sql).replace('{INT_PK}','INTEGER PRIMARY KEY').replace('{CLUSTERED}','WITHOUT ROWID')
c=sqlite3.connect(DB, isolation_level=None)
c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA synchronous=FULL'); c.execute('PRAGMA cache_size=-131072')
c.executescript(sql)
N=int(sys.argv[1]); B=50000
rows=[]
for i in range(N):
    mn='%012d'%random.randrange(10**12); rc='%011d'%random.randrange(10**11)
    rows.append((mn,rc,'131016','山田　太郎','ヤマダ　タロウ',None,'1980-01-%02d'%(i%28+1),1,'東京都千代田区丸の内一丁目2番3号','00000','0'*17,'resident',1,0,0))
rows.sort()
t=time.time()
for k in range(0,N,B):
    ch=rows[k:k+B]
    c.execute('BEGIN IMMEDIATE')
    c.executemany('INSERT INTO residents VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)', ch)
    if sys.argv[2]=='1':
        c.executemany('INSERT INTO resident_events VALUES (?,?,?,?,?,?,?,?,?)', [(r[0],1,'import','2026-11-22','bulk import','131016','admin',0,json.dumps(dict(zip(['my_number','resident_code','municipality','name','name_kana','alias','birth_date','sex','address','name_flags','address_flags','status','version','created_at','updated_at'],r)),ensure_ascii=False)) for r in ch])
    c.execute('COMMIT')
dt=time.time()-t
print(f"N={N} events={sys.argv[2]}: {N/dt:.0f} residents/s")

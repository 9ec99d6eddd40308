//! The valid_policy_tree of RFC 5280 §6.1.2–§6.1.5, bounded in size.

use const_oid::ObjectIdentifier as Oid;

use super::PathErrorKind;
use super::parse::CertInfo;

/// `anyPolicy`.
pub const ANY_POLICY: Oid = Oid::new_unwrap("2.5.29.32.0");

/// Most nodes the tree may hold (policy mapping can make it grow
/// exponentially with crafted certificates).
const MAX_NODES: usize = 4096;

#[derive(Clone, Debug)]
struct Node {
    valid: Oid,
    expected: Vec<Oid>,
    parent: usize,
    alive: bool,
}

/// The tree, one vector of nodes per depth.
pub(crate) struct PolicyTree {
    levels: Vec<Vec<Node>>,
    null: bool,
    count: usize,
}

impl PolicyTree {
    pub(crate) fn new() -> Self {
        PolicyTree {
            levels: vec![vec![Node {
                valid: ANY_POLICY,
                expected: vec![ANY_POLICY],
                parent: 0,
                alive: true,
            }]],
            null: false,
            count: 1,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        self.null
    }

    fn push(&mut self, depth: usize, node: Node) -> Result<(), PathErrorKind> {
        self.count += 1;
        if self.count > MAX_NODES {
            return Err(PathErrorKind::Policy(
                "the policy tree grows too large (limit on work)".into(),
            ));
        }
        while self.levels.len() <= depth {
            self.levels.push(Vec::new());
        }
        self.levels[depth].push(node);
        Ok(())
    }

    fn has_children(&self, depth: usize, idx: usize) -> bool {
        self.levels
            .get(depth + 1)
            .is_some_and(|l| l.iter().any(|c| c.alive && c.parent == idx))
    }

    /// Deletes childless nodes at depths < `below`, bottom-up.
    fn prune(&mut self, below: usize) {
        for d in (0..below.min(self.levels.len())).rev() {
            for i in 0..self.levels[d].len() {
                if self.levels[d][i].alive && !self.has_children(d, i) {
                    self.levels[d][i].alive = false;
                }
            }
        }
        if !self.levels[0].iter().any(|n| n.alive) {
            self.null = true;
        }
    }

    fn kill_subtree(&mut self, depth: usize, idx: usize) {
        self.levels[depth][idx].alive = false;
        let mut dead = vec![idx];
        for d in depth + 1..self.levels.len() {
            let mut next = Vec::new();
            for (i, n) in self.levels[d].iter_mut().enumerate() {
                if n.alive && dead.contains(&n.parent) {
                    n.alive = false;
                    next.push(i);
                }
            }
            dead = next;
        }
    }

    /// §6.1.3 (d)-(e) for the certificate at `depth` (1 = first after the
    /// trust anchor). `inhibit_any`: the inhibit_anyPolicy counter;
    /// `last`: this is certificate n.
    pub(crate) fn process_cert(
        &mut self,
        cert: &CertInfo,
        depth: usize,
        inhibit_any: usize,
        last: bool,
    ) -> Result<(), PathErrorKind> {
        if self.null {
            return Ok(());
        }
        let Some((_, policies)) = &cert.exts.policies else {
            self.null = true;
            return Ok(());
        };
        let parent_level = depth - 1;
        let parents: Vec<(usize, Node)> = self
            .levels
            .get(parent_level)
            .map(|l| {
                l.iter()
                    .enumerate()
                    .filter(|(_, n)| n.alive)
                    .map(|(i, n)| (i, n.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut has_any = false;
        for p in policies {
            if p.oid == ANY_POLICY {
                has_any = true;
                continue;
            }
            let mut matched = false;
            for (i, n) in &parents {
                if n.expected.contains(&p.oid) {
                    matched = true;
                    self.push(
                        depth,
                        Node {
                            valid: p.oid,
                            expected: vec![p.oid],
                            parent: *i,
                            alive: true,
                        },
                    )?;
                }
            }
            if !matched {
                for (i, n) in &parents {
                    if n.valid == ANY_POLICY {
                        self.push(
                            depth,
                            Node {
                                valid: p.oid,
                                expected: vec![p.oid],
                                parent: *i,
                                alive: true,
                            },
                        )?;
                    }
                }
            }
        }
        if has_any && (inhibit_any > 0 || (!last && cert.self_issued)) {
            for (i, n) in &parents {
                for e in &n.expected {
                    let exists = self.levels.get(depth).is_some_and(|l| {
                        l.iter().any(|c| c.alive && c.parent == *i && c.valid == *e)
                    });
                    if !exists {
                        self.push(
                            depth,
                            Node {
                                valid: *e,
                                expected: vec![*e],
                                parent: *i,
                                alive: true,
                            },
                        )?;
                    }
                }
            }
        }
        if self.levels.len() <= depth {
            self.levels.push(Vec::new());
        }
        self.prune(depth);
        Ok(())
    }

    /// §6.1.4 (b): policy mappings of the certificate at `depth`.
    pub(crate) fn apply_mappings(
        &mut self,
        cert: &CertInfo,
        depth: usize,
        policy_mapping: usize,
    ) -> Result<(), PathErrorKind> {
        let Some(maps) = &cert.exts.policy_mappings else {
            return Ok(());
        };
        if maps
            .iter()
            .any(|(a, b)| *a == ANY_POLICY || *b == ANY_POLICY)
        {
            return Err(PathErrorKind::Policy(
                "policyMappings maps to or from anyPolicy".into(),
            ));
        }
        if self.null {
            return Ok(());
        }
        let mut issuers: Vec<Oid> = maps.iter().map(|m| m.0).collect();
        issuers.sort();
        issuers.dedup();
        for idp in issuers {
            let subjects: Vec<Oid> = maps.iter().filter(|m| m.0 == idp).map(|m| m.1).collect();
            if policy_mapping > 0 {
                let mut found = false;
                if let Some(level) = self.levels.get_mut(depth) {
                    for n in level.iter_mut().filter(|n| n.alive && n.valid == idp) {
                        n.expected = subjects.clone();
                        found = true;
                    }
                }
                if !found {
                    let any_parent = self.levels.get(depth).and_then(|l| {
                        l.iter()
                            .find(|n| n.alive && n.valid == ANY_POLICY)
                            .map(|n| n.parent)
                    });
                    if let Some(parent) = any_parent {
                        self.push(
                            depth,
                            Node {
                                valid: idp,
                                expected: subjects.clone(),
                                parent,
                                alive: true,
                            },
                        )?;
                    }
                }
            } else {
                let idxs: Vec<usize> = self
                    .levels
                    .get(depth)
                    .map(|l| {
                        l.iter()
                            .enumerate()
                            .filter(|(_, n)| n.alive && n.valid == idp)
                            .map(|(i, _)| i)
                            .collect()
                    })
                    .unwrap_or_default();
                for i in idxs {
                    self.kill_subtree(depth, i);
                }
                self.prune(depth);
            }
        }
        Ok(())
    }

    /// §6.1.5 (g): the intersection with the user-initial-policy-set; returns
    /// the valid policies at depth `n` (empty when only anyPolicy remains).
    pub(crate) fn finish(&mut self, n: usize, initial: &[Oid]) -> Vec<Oid> {
        if self.null {
            return Vec::new();
        }
        let user_any = initial.is_empty() || initial.contains(&ANY_POLICY);
        if !user_any {
            // Nodes whose parent is anyPolicy.
            let mut node_set: Vec<(usize, usize)> = Vec::new();
            for d in 1..self.levels.len() {
                for (i, node) in self.levels[d].iter().enumerate() {
                    if node.alive && self.levels[d - 1][node.parent].valid == ANY_POLICY {
                        node_set.push((d, i));
                    }
                }
            }
            for (d, i) in &node_set {
                let v = self.levels[*d][*i].valid;
                if v != ANY_POLICY && !initial.contains(&v) {
                    self.kill_subtree(*d, *i);
                }
            }
            // A leaf-level anyPolicy node stands for every initial policy.
            let any_leaf: Vec<usize> = self
                .levels
                .get(n)
                .map(|l| {
                    l.iter()
                        .enumerate()
                        .filter(|(_, x)| x.alive && x.valid == ANY_POLICY)
                        .map(|(i, _)| i)
                        .collect()
                })
                .unwrap_or_default();
            for i in any_leaf {
                let parent = self.levels[n][i].parent;
                self.levels[n][i].alive = false;
                for p in initial {
                    let present = node_set
                        .iter()
                        .any(|(d, j)| self.levels[*d][*j].alive && self.levels[*d][*j].valid == *p);
                    if !present {
                        let _ = self.push(
                            n,
                            Node {
                                valid: *p,
                                expected: vec![*p],
                                parent,
                                alive: true,
                            },
                        );
                    }
                }
            }
            self.prune(n);
        }
        if self.null {
            return Vec::new();
        }
        let mut out: Vec<Oid> = self
            .levels
            .get(n)
            .map(|l| {
                l.iter()
                    .filter(|x| x.alive && x.valid != ANY_POLICY)
                    .map(|x| x.valid)
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out.dedup();
        if out.is_empty()
            && !self
                .levels
                .get(n)
                .is_some_and(|l| l.iter().any(|x| x.alive))
        {
            self.null = true;
        }
        out
    }
}

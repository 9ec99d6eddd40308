//! Demo data created on first start: agencies with legal bases, one operator per role
//! (tokens in `DATA_DIR/demo-operators.json`, mode 0600), and synthetic residents.

use honnin_auth::NewOperator;
use honnin_core::{Actor, LocalGovCode, Role};
use honnin_registry::synth::Generator;
use honnin_registry::{Agency, ImportRow, LegalBasis};

use crate::{AppState, ServerConfig, StartError, write_secret};

fn boot(e: impl std::fmt::Display) -> StartError {
    StartError::Bootstrap(e.to_string())
}

pub(crate) async fn create(st: &AppState, config: &ServerConfig) -> Result<(), StartError> {
    let admin = Actor::system();
    let all: Vec<String> = honnin_registry::PROVISION_ITEMS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let four: Vec<String> = ["my_number", "name", "birth_date", "sex", "address"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let agencies = [
        (
            "nenkin",
            "日本年金機構",
            vec![(
                "JUKI-T1-91",
                "住基法別表第一 91: 国民年金・厚生年金の給付の支給に関する事務",
                all.clone(),
            )],
        ),
        (
            "passport",
            "外務省 旅券課",
            vec![(
                "JUKI-T1-1",
                "住基法別表第一 1: 旅券の発給に関する事務",
                four.clone(),
            )],
        ),
        (
            "nta",
            "国税庁",
            vec![(
                "JUKI-T1-57",
                "住基法別表第一 57: 国税の賦課徴収に関する事務",
                four,
            )],
        ),
    ];
    for (id, name, bases) in agencies {
        let bases = bases
            .into_iter()
            .map(|(code, desc, items)| LegalBasis {
                agency: id.into(),
                code: code.into(),
                description: desc.into(),
                items,
            })
            .collect();
        st.registry
            .configure_agency(
                &admin,
                Agency {
                    id: id.into(),
                    name: name.into(),
                },
                bases,
            )
            .await
            .map_err(boot)?;
    }
    let chiyoda = LocalGovCode::parse("131016").map_err(boot)?;
    let sapporo = LocalGovCode::parse("011002").map_err(boot)?;
    let ops = [
        (
            "clerk-chiyoda",
            "千代田区 住基担当",
            Role::RegistryClerk,
            Some(chiyoda.clone()),
            None,
        ),
        (
            "clerk-sapporo",
            "札幌市 住基担当",
            Role::RegistryClerk,
            Some(sapporo),
            None,
        ),
        (
            "window-chiyoda",
            "千代田区 窓口",
            Role::WindowClerk,
            Some(chiyoda),
            None,
        ),
        (
            "agency-nenkin",
            "日本年金機構 照会担当",
            Role::Agency,
            None,
            Some("nenkin".to_string()),
        ),
        ("auditor", "監査担当", Role::Auditor, None, None),
    ];
    let mut out = serde_json::Map::new();
    for (id, name, role, municipality, agency) in ops {
        let password = format!("demo-{}", hex_token());
        let created = st
            .auth
            .create_operator(
                &admin,
                NewOperator {
                    id: id.into(),
                    display_name: name.into(),
                    role,
                    municipality,
                    agency,
                    password: password.clone(),
                },
            )
            .await
            .map_err(boot)?;
        let token = st
            .auth
            .issue_token(&admin, id, "demo")
            .await
            .map_err(boot)?;
        out.insert(
            id.into(),
            serde_json::json!({ "role": role, "token": token, "password": password, "totp_secret": created.totp_secret }),
        );
    }
    write_secret(
        &config.data_dir.join("demo-operators.json"),
        &serde_json::to_string_pretty(&out).map_err(boot)?,
    )?;
    if config.demo_residents > 0 {
        let mut generator = Generator::new(20261122, honnin_core::today_jst(st.clock.now()));
        let rows: Vec<ImportRow> = (0..config.demo_residents)
            .map(|_| ImportRow::from_synthetic(&generator.next_resident()))
            .collect();
        for (i, chunk) in rows.chunks(10_000).enumerate() {
            st.registry
                .import(&admin, chunk, i * 10_000 + 1)
                .await
                .map_err(boot)?;
        }
    }
    tracing::info!(residents = config.demo_residents, "created demo data");
    Ok(())
}

fn hex_token() -> String {
    use rand::Rng;
    let b: [u8; 8] = rand::rng().random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

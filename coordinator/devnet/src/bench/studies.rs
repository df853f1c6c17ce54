//! The studies the benchmarks run: the demonstration pack, or one of its queries, asked of a
//! given set of CDGs.

use cdg_shared::cdg::Cdg;

use cdg_coordinator::study::DEMO_STUDY;

/// The names of the demonstration pack's queries, in order.
pub fn pack_queries() -> anyhow::Result<Vec<String>> {
    let pack: toml::Table = toml::from_str(DEMO_STUDY)?;
    Ok(queries(&pack)?
        .iter()
        .filter_map(|q| q.get("name").and_then(toml::Value::as_str))
        .map(str::to_string)
        .collect())
}

fn queries(pack: &toml::Table) -> anyhow::Result<&Vec<toml::Value>> {
    pack.get("query")
        .and_then(toml::Value::as_array)
        .ok_or_else(|| anyhow::anyhow!("the demonstration study has no [[query]]"))
}

/// The demonstration pack asked of `cdgs`, reduced to the query named `only` if given, and
/// titled with `label` so that each variant is a study of its own.
pub fn variant(cdgs: &[Cdg], only: Option<&str>, label: &str) -> anyhow::Result<String> {
    let mut pack: toml::Table = toml::from_str(DEMO_STUDY)?;
    let mut kept = queries(&pack)?.clone();
    if let Some(name) = only {
        kept.retain(|q| q.get("name").and_then(toml::Value::as_str) == Some(name));
        anyhow::ensure!(
            !kept.is_empty(),
            "no query {name} in the demonstration study"
        );
    }
    let title = pack
        .get("title")
        .and_then(toml::Value::as_str)
        .unwrap_or("étude")
        .to_string();
    pack.insert("title".into(), format!("{title} ({label})").into());
    pack.insert("query".into(), kept.into());
    pack.insert(
        "departements".into(),
        cdgs.iter()
            .map(|c| toml::Value::from(c.code()))
            .collect::<Vec<_>>()
            .into(),
    );
    Ok(toml::to_string(&pack)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cdg_coordinator::study::Study;

    #[test]
    fn variants_are_valid_studies_of_their_own() {
        let names = pack_queries().unwrap();
        assert_eq!(names.len(), 7);
        let one = Study::from_toml(&variant(&[Cdg::Nord], Some(&names[1]), "centralisé").unwrap())
            .unwrap();
        assert_eq!(one.queries.len(), 1);
        assert_eq!(one.queries[0].name, names[1]);
        assert_eq!(one.departements, vec![Cdg::Nord]);
        let national: Vec<Cdg> = Cdg::national().take(20).collect();
        let all = Study::from_toml(&variant(&national, None, "20 nœuds").unwrap()).unwrap();
        assert_eq!((all.queries.len(), all.departements.len()), (7, 20));
        assert_ne!(one.id(), all.id());
        assert!(variant(&[Cdg::Nord], Some("nope"), "x").is_err());
    }
}

//! Interface texts in German, English and Leichte Sprache, from `i18n/<lang>.txt`.
//!
//! A missing key is a bug: every key exists in all three files (checked by a test), and pages
//! fall back to showing the key itself rather than failing.

use std::collections::HashMap;
use std::sync::OnceLock;

use rathaus_domain::service::Lang;

const SOURCES: [(Lang, &str); 3] = [
    (Lang::De, include_str!("../i18n/de.txt")),
    (Lang::En, include_str!("../i18n/en.txt")),
    (Lang::Ls, include_str!("../i18n/ls.txt")),
];

type Catalog = HashMap<String, String>;

fn catalogs() -> &'static HashMap<Lang, Catalog> {
    static C: OnceLock<HashMap<Lang, Catalog>> = OnceLock::new();
    C.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(lang, text)| {
                let map = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .filter_map(|l| {
                        l.split_once(" = ")
                            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    })
                    .collect();
                (*lang, map)
            })
            .collect()
    })
}

/// The text for `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> String {
    catalogs()
        .get(&lang)
        .and_then(|c| c.get(key))
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// The text with `{name}` placeholders filled.
pub fn tf(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    args.iter().fold(t(lang, key), |acc, (k, v)| {
        acc.replace(&format!("{{{k}}}"), v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_exists_in_every_language() {
        let c = catalogs();
        let de: Vec<&String> = c[&Lang::De].keys().collect();
        assert!(de.len() > 50);
        for lang in Lang::ALL {
            let cat = &c[&lang];
            for k in &de {
                assert!(
                    cat.get(*k).is_some_and(|v| !v.is_empty()),
                    "{k} missing in {lang}"
                );
            }
            assert_eq!(cat.len(), de.len(), "{lang} has keys German lacks");
        }
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut used = Vec::new();
        for dir in ["templates", "src", "src/portal"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                for part in text.split("t(\"").skip(1) {
                    if let Some(key) = part.split('"').next()
                        && key.contains('.')
                        && !key.contains(' ')
                    {
                        used.push((entry.path().display().to_string(), key.to_owned()));
                    }
                }
            }
        }
        assert!(!used.is_empty());
        for (file, key) in used {
            assert!(
                catalogs()[&Lang::De].contains_key(&key),
                "{file} uses unknown key {key}"
            );
        }
    }
}

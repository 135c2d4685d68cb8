//! Texts in the three interface languages: German, English and Leichte Sprache (easy German).

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    De,
    En,
    /// Leichte Sprache: German in short sentences and common words, for people with reading
    /// difficulties (BITV 2.0 requires it for central information).
    Ls,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::De, Lang::En, Lang::Ls];

    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
            Lang::Ls => "ls",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            "ls" => Some(Lang::Ls),
            _ => None,
        }
    }

    /// The value of the HTML `lang` attribute: Leichte Sprache is German.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De | Lang::Ls => "de",
        }
    }

    /// The language's own name, for the language switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::De => "Deutsch",
            Lang::En => "English",
            Lang::Ls => "Leichte Sprache",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A text given in all three languages. Definitions must provide each of them, so that no page
/// silently falls back to German.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub de: String,
    pub en: String,
    pub ls: String,
}

impl Text {
    pub fn new(de: impl Into<String>, en: impl Into<String>, ls: impl Into<String>) -> Text {
        Text {
            de: de.into(),
            en: en.into(),
            ls: ls.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::De => &self.de,
            Lang::En => &self.en,
            Lang::Ls => &self.ls,
        }
    }

    /// Replaces `{name}` placeholders in every language.
    pub fn fill(&self, args: &[(&str, &str)]) -> Text {
        let f = |s: &str| {
            args.iter().fold(s.to_owned(), |acc, (k, v)| {
                acc.replace(&format!("{{{k}}}"), v)
            })
        };
        Text {
            de: f(&self.de),
            en: f(&self.en),
            ls: f(&self.ls),
        }
    }

    pub fn is_complete(&self) -> bool {
        !self.de.trim().is_empty() && !self.en.trim().is_empty() && !self.ls.trim().is_empty()
    }
}

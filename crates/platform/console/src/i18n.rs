//! The console's languages and message catalogues (Project Fluent): every string a page shows
//! comes from `locales/<lang>.ftl`, compiled into the binary.

use std::sync::LazyLock;

use fluent_bundle::{FluentArgs, FluentResource, FluentValue, concurrent::FluentBundle};

/// A language the console speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

/// Every language, in the order the switcher lists them.
pub const LANGS: [Lang; 2] = [Lang::En, Lang::Zh];

const EN_FTL: &str = include_str!("../locales/en.ftl");
const ZH_FTL: &str = include_str!("../locales/zh-CN.ftl");

struct Catalog {
    en: FluentBundle<FluentResource>,
    zh: FluentBundle<FluentResource>,
}

fn bundle(tag: &str, source: &str) -> FluentBundle<FluentResource> {
    let id = tag
        .parse::<unic_langid::LanguageIdentifier>()
        .unwrap_or_default();
    let mut b = FluentBundle::new_concurrent(vec![id]);
    // Pages are HTML, not bidirectional text: no isolation marks around arguments.
    b.set_use_isolating(false);
    let resource = match FluentResource::try_new(source.to_string()) {
        Ok(r) => r,
        Err((r, errors)) => {
            tracing::error!(
                lang = tag,
                ?errors,
                "the message catalogue has syntax errors"
            );
            r
        }
    };
    if let Err(errors) = b.add_resource(resource) {
        tracing::error!(
            lang = tag,
            ?errors,
            "the message catalogue has duplicate messages"
        );
    }
    b
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog {
    en: bundle("en", EN_FTL),
    zh: bundle("zh-CN", ZH_FTL),
});

impl Lang {
    /// The BCP 47 tag (`en`, `zh-CN`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    /// The language's name in itself, for the switcher.
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Zh => "简体中文",
        }
    }

    /// A tag as stored or sent (`en`, `en-GB`, `zh`, `zh-CN`, `zh-Hans` …).
    pub fn parse(tag: &str) -> Option<Lang> {
        let t = tag.trim().to_ascii_lowercase();
        if t == "en" || t.starts_with("en-") {
            Some(Lang::En)
        } else if t == "zh" || t.starts_with("zh-") {
            Some(Lang::Zh)
        } else {
            None
        }
    }

    /// The best language for an `Accept-Language` header (English when nothing matches).
    pub fn negotiate(accept: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in accept.split(',') {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or_default();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(l) = Lang::parse(tag)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, l));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        match self {
            Lang::En => &CATALOG.en,
            Lang::Zh => &CATALOG.zh,
        }
    }

    /// The message `key`.
    pub fn t(self, key: &str) -> String {
        self.format(key, None)
    }

    /// The message `key` with arguments.
    pub fn ta(self, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut a = FluentArgs::new();
        for (k, v) in args {
            a.set(*k, v.clone());
        }
        self.format(key, Some(&a))
    }

    fn format(self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        let b = self.bundle();
        let Some(pattern) = b.get_message(key).and_then(|m| m.value()) else {
            tracing::warn!(
                key,
                lang = self.tag(),
                "a message is missing from the catalogue"
            );
            return key.to_string();
        };
        let mut errors = vec![];
        let s = b.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(
                key,
                lang = self.tag(),
                ?errors,
                "a message did not format cleanly"
            );
        }
        s.into_owned()
    }
}

/// The ids of the messages in a catalogue's source.
pub fn message_ids(source: &str) -> Vec<String> {
    source
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim().to_string()))
        .collect()
}

/// The catalogues' sources, by language.
pub fn sources() -> [(Lang, &'static str); 2] {
    [(Lang::En, EN_FTL), (Lang::Zh, ZH_FTL)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_we_speak() {
        assert_eq!(Lang::negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(Lang::negotiate("fr-FR,en-GB;q=0.5,zh;q=0.4"), Lang::En);
        assert_eq!(Lang::negotiate("de"), Lang::En);
        assert_eq!(Lang::negotiate(""), Lang::En);
        assert_eq!(Lang::negotiate("en;q=0.2, zh-Hans;q=0.9"), Lang::Zh);
    }

    #[test]
    fn both_catalogues_hold_the_same_messages_and_parse() {
        let en = message_ids(EN_FTL);
        let zh = message_ids(ZH_FTL);
        let missing_zh: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        let missing_en: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        assert!(missing_zh.is_empty(), "missing in zh-CN: {missing_zh:?}");
        assert!(missing_en.is_empty(), "missing in en: {missing_en:?}");
        for (lang, src) in sources() {
            assert!(
                FluentResource::try_new(src.to_string()).is_ok(),
                "{} does not parse",
                lang.tag()
            );
            let mut seen = std::collections::BTreeSet::new();
            for k in message_ids(src) {
                assert!(seen.insert(k.clone()), "{} repeats {k}", lang.tag());
            }
        }
    }

    #[test]
    fn arguments_are_filled_in() {
        assert_eq!(
            Lang::En.ta("blocks-of", &[("count", FluentValue::from(3))]),
            "3 blocks"
        );
        assert_eq!(Lang::Zh.t("nav-overview"), "概览");
    }

    #[test]
    fn every_message_the_code_names_is_in_the_catalogues() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut used = std::collections::BTreeSet::new();
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for pat in [".t(\"", ".ta(\""] {
                    for (i, _) in text.match_indices(pat) {
                        let rest = &text[i + pat.len()..];
                        if let Some(end) = rest.find('"') {
                            used.insert(rest[..end].to_string());
                        }
                    }
                }
            }
        }
        assert!(used.len() > 50, "the scan found the messages used");
        for (lang, src) in sources() {
            let ids = message_ids(src);
            let missing: Vec<_> = used.iter().filter(|k| !ids.contains(k)).collect();
            assert!(missing.is_empty(), "{} lacks {missing:?}", lang.tag());
        }
    }
}

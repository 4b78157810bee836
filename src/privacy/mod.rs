//! Privacy of the developers a report describes: stable pseudonyms instead of ids, e-mails and
//! logins ([`pseudonym`]), teams ([`teams`]), and a minimum group size below which a breakdown
//! is folded into `other` or hidden. Pure functions over computed reports and listings.

pub mod pseudonym;
pub mod teams;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::Report;
use crate::prs::PrListing;
use crate::store::sessions::SessionPage;
use pseudonym::Pseudonymizer;

/// Minimum group size when pseudonyms are on and none is given (GitHub's Copilot metrics show
/// a team from 5 licensed users).
pub const DEFAULT_MIN_GROUP: usize = 5;

/// Environment variable that holds the pseudonym key (instead of the one kept in the store).
pub const KEY_ENV: &str = "PRODLENS_PSEUDONYM_KEY";

/// The privacy setting kept with a store (`prod-lens privacy`), so every command and the
/// dashboard apply it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPrivacy {
    /// Replace developer ids and logins by pseudonyms in every output.
    pub pseudonymize: bool,
    /// Smallest group shown on its own (None: [`DEFAULT_MIN_GROUP`] with pseudonyms, else 1).
    pub min_group_size: Option<usize>,
    /// The pseudonym key (hex), made when pseudonyms are first turned on; never printed.
    #[serde(skip_serializing)]
    pub key: Option<String>,
}

impl StoredPrivacy {
    /// Turns pseudonyms on, making a random key when none is kept and the environment gives
    /// none (`env_key_set`).
    pub fn turn_on(&mut self, env_key_set: bool) -> Result<()> {
        self.pseudonymize = true;
        if self.key.is_none() && !env_key_set {
            self.key = Some(Pseudonymizer::random_key().map_err(Error::InvalidArgument)?);
        }
        Ok(())
    }
}

/// Privacy flags of a command (`report`, `serve`, `prs`, `demo`, `identities`).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct PrivacyFlags {
    /// Show stable pseudonyms (dev-…) instead of developer ids, e-mails and logins (on for good
    /// when the store's privacy setting says so).
    #[arg(long)]
    pub pseudonymize: bool,
    /// Fold any team under K developers into `other` and hide per-developer views [default: 5
    /// with pseudonyms, else 1, or the store's setting].
    #[arg(long, value_name = "K")]
    pub min_group_size: Option<usize>,
    /// Show per-developer tables and pages even below the minimum group size (still
    /// pseudonymized when pseudonyms are on).
    #[arg(long)]
    pub show_developers: bool,
}

/// The privacy a command applies: the store's setting with the command's flags on top.
#[derive(Debug, Clone, Default)]
pub struct Privacy {
    /// Pseudonymizer when pseudonyms are on.
    pub pseudonyms: Option<Pseudonymizer>,
    /// Smallest group shown on its own (1: no folding).
    pub min_group_size: usize,
    /// Per-developer views asked for explicitly.
    pub show_developers: bool,
}

/// What a report says about its privacy: in every format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrivacyNote {
    /// Developers appear as pseudonyms.
    pub pseudonymized: bool,
    /// Smallest group shown on its own.
    pub min_group_size: usize,
    /// Per-developer tables are shown.
    pub developers_shown: bool,
    /// What was folded or hidden, and why.
    pub suppressed: Vec<String>,
}

impl Default for PrivacyNote {
    /// Nothing renamed or hidden.
    fn default() -> Self {
        Privacy::off().note()
    }
}

impl Privacy {
    /// No pseudonyms, no folding: every id as stored.
    pub fn off() -> Self {
        Self {
            pseudonyms: None,
            min_group_size: 1,
            show_developers: true,
        }
    }

    /// The privacy of a command: pseudonyms when the store or the flag asks (keyed by
    /// `env_key` when set, else the stored key); the flag's group size, else the store's, else
    /// the default.
    pub fn resolve(
        stored: &StoredPrivacy,
        flags: &PrivacyFlags,
        env_key: Option<&str>,
    ) -> Result<Self> {
        let pseudonymize = stored.pseudonymize || flags.pseudonymize;
        let pseudonyms = if pseudonymize {
            let key = match (env_key.filter(|k| !k.is_empty()), &stored.key) {
                (Some(k), _) => k.as_bytes().to_vec(),
                (None, Some(k)) => k.as_bytes().to_vec(),
                (None, None) => {
                    return Err(Error::InvalidArgument(format!(
                        "--pseudonymize needs a key: set {KEY_ENV} (16+ characters) or run `prod-lens privacy --pseudonymize` once to keep one in the store"
                    )))
                }
            };
            Some(
                Pseudonymizer::new(&key)
                    .map_err(|e| Error::InvalidArgument(format!("{KEY_ENV}: {e}")))?,
            )
        } else {
            None
        };
        let default = if pseudonymize { DEFAULT_MIN_GROUP } else { 1 };
        let min_group_size = flags
            .min_group_size
            .or(stored.min_group_size)
            .unwrap_or(default)
            .max(1);
        Ok(Self {
            pseudonyms,
            min_group_size,
            show_developers: flags.show_developers || min_group_size <= 1,
        })
    }

    /// Whether per-developer tables, pages and columns are hidden.
    pub fn developers_hidden(&self) -> bool {
        !self.show_developers && self.min_group_size > 1
    }

    /// How a person (login or developer id) is shown: the pseudonym, or as stored.
    pub fn name(&self, person: &str) -> String {
        match &self.pseudonyms {
            Some(p) => p.pseudonym(person),
            None => person.to_string(),
        }
    }

    /// The refusal of a per-developer view (`what`) hidden by the minimum group size, if it is.
    pub fn refuse_developer_view(&self, what: &str) -> Result<()> {
        if self.developers_hidden() {
            return Err(Error::InvalidArgument(format!(
                "{what} shows one developer, below the minimum group size {}; ask for it with --show-developers (or lower --min-group-size)",
                self.min_group_size
            )));
        }
        Ok(())
    }

    /// The report section for this privacy, with nothing suppressed yet.
    pub fn note(&self) -> PrivacyNote {
        PrivacyNote {
            pseudonymized: self.pseudonyms.is_some(),
            min_group_size: self.min_group_size,
            developers_shown: !self.developers_hidden(),
            suppressed: Vec::new(),
        }
    }

    /// Applies pseudonyms and group folding to a computed report (per-repo teams folded, the
    /// per-developer table hidden or pseudonymized, the developer filter renamed).
    pub fn apply_report(&self, report: &mut Report) {
        let mut note = self.note();
        let k = self.min_group_size;
        for (repo, m) in report.metrics.iter_mut() {
            let (kept, folded, dropped) = teams::fold_small(std::mem::take(&mut m.teams), k);
            m.teams = kept;
            if !folded.is_empty() {
                note.suppressed.push(format!(
                    "{repo}: {} team(s) under {k} developers in the window folded into `other`{}: {}",
                    folded.len(),
                    if dropped {
                        format!(", which is left out because it has fewer than {k} developers too")
                    } else {
                        String::new()
                    },
                    folded.join(", ")
                ));
            }
            if self.developers_hidden() {
                m.cost.per_developer.clear();
                m.commit_frequency.per_developer.clear();
                if !m.developers.is_empty() {
                    note.suppressed.push(format!(
                        "{repo}: per-developer table ({} developers) and per-developer cost and commit maps hidden: each line is one developer, below the minimum group size {k} (--show-developers shows them)",
                        m.developers.len()
                    ));
                }
                m.developers.clear();
            } else if self.pseudonyms.is_some() {
                m.cost.per_developer = self.rename_keys(std::mem::take(&mut m.cost.per_developer));
                m.commit_frequency.per_developer =
                    self.rename_keys(std::mem::take(&mut m.commit_frequency.per_developer));
                for d in &mut m.developers {
                    d.developer = self.name(&d.developer);
                    // The ids linked to a login are the raw ids pseudonyms hide.
                    d.linked_ids.clear();
                }
            }
        }
        if let Some(d) = &mut report.metadata.developer {
            *d = self.name(d);
        }
        report.privacy = note;
    }

    /// A per-developer map under pseudonyms (values of ids with one pseudonym added up).
    fn rename_keys(
        &self,
        map: std::collections::BTreeMap<String, f64>,
    ) -> std::collections::BTreeMap<String, f64> {
        let mut out = std::collections::BTreeMap::new();
        for (k, v) in map {
            *out.entry(self.name(&k)).or_insert(0.0) += v;
        }
        out
    }

    /// Applies pseudonyms to a PR listing's authors (hidden with per-developer views).
    pub fn apply_prs(&self, listing: &mut PrListing) {
        for row in &mut listing.prs {
            row.author = match row.author.take() {
                Some(_) if self.developers_hidden() => None,
                Some(a) => Some(self.name(&a)),
                None => None,
            };
        }
    }

    /// Applies pseudonyms to a sessions page: `person` gives the login or id a developer id
    /// counts for; with per-developer views hidden, no session names its developer.
    pub fn apply_sessions(&self, page: &mut SessionPage, person: &dyn Fn(&str) -> String) {
        for row in &mut page.items {
            row.developer = match row.developer.take() {
                Some(_) if self.developers_hidden() => None,
                Some(d) => Some(self.name(&person(&d))),
                None => None,
            };
        }
    }

    /// The developer id a user typed (`--developer`, a dashboard path): a pseudonym is looked up
    /// among `known` ids and logins; anything else is taken as it is.
    pub fn resolve_developer<'a>(
        &self,
        asked: &str,
        known: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        match &self.pseudonyms {
            Some(p) if Pseudonymizer::looks_like(asked.trim()) => known
                .into_iter()
                .find(|k| p.pseudonym(k) == asked.trim().to_ascii_lowercase())
                .map(str::to_string),
            _ => Some(asked.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(on: bool) -> StoredPrivacy {
        StoredPrivacy {
            pseudonymize: on,
            min_group_size: None,
            key: Some("00112233445566778899aabbccddeeff".into()),
        }
    }

    #[test]
    fn resolves_flags_on_top_of_the_store() {
        let off =
            Privacy::resolve(&StoredPrivacy::default(), &PrivacyFlags::default(), None).unwrap();
        assert!(off.pseudonyms.is_none());
        assert_eq!(off.min_group_size, 1);
        assert!(!off.developers_hidden());

        let on = Privacy::resolve(&stored(true), &PrivacyFlags::default(), None).unwrap();
        assert_eq!(on.min_group_size, DEFAULT_MIN_GROUP);
        assert!(on.developers_hidden());
        let shown = PrivacyFlags {
            show_developers: true,
            ..PrivacyFlags::default()
        };
        assert!(!Privacy::resolve(&stored(true), &shown, None)
            .unwrap()
            .developers_hidden());

        // The flag turns pseudonyms on; the environment's key wins over the stored one.
        let flag = PrivacyFlags {
            pseudonymize: true,
            min_group_size: Some(3),
            ..PrivacyFlags::default()
        };
        let a = Privacy::resolve(&stored(false), &flag, None).unwrap();
        let b = Privacy::resolve(&stored(false), &flag, Some("another key, long enough")).unwrap();
        assert_eq!(a.min_group_size, 3);
        assert_ne!(a.name("alice"), b.name("alice"));
        assert!(Privacy::resolve(&StoredPrivacy::default(), &flag, None).is_err());
        assert!(Privacy::resolve(&StoredPrivacy::default(), &flag, Some("short")).is_err());
    }

    #[test]
    fn resolves_a_pseudonym_back_to_an_id() {
        let p = Privacy::resolve(&stored(true), &PrivacyFlags::default(), None).unwrap();
        let alias = p.name("Alice@Acme.com");
        let known = ["bob@acme.com", "alice@acme.com"];
        assert_eq!(
            p.resolve_developer(&alias, known),
            Some("alice@acme.com".into())
        );
        assert_eq!(p.resolve_developer("dev-00000000", known), None);
        assert_eq!(p.resolve_developer("carol", known), Some("carol".into()));
        assert!(p.refuse_developer_view("--developer").is_err());
        assert!(Privacy::off().refuse_developer_view("--developer").is_ok());
    }
}

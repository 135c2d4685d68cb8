//! The register (Hundesteuerregister) and the decisions that change it: a registration adds the
//! household's dogs with new tax tags, a deregistration ends an entry, a replacement tag
//! invalidates the old tag. Each returns its notice. Nothing is overwritten without the previous
//! state staying in the register's history.

use std::sync::Arc;

use rathaus_crypto::envelope::IndexKey;
use rathaus_crypto::token::new_record_id;
use rathaus_domain::dogtax::{DogEntry, Installment, StatuteHistory};
use rathaus_domain::localtime::{berlin_date, from_unix_ms, to_unix_ms};
use rathaus_domain::service::form::parse_date;
use rathaus_domain::tenant::Tenant;
use rathaus_store::Tx;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::cases::{Case, next_reference_number};
use rathaus_store::dogtax::{
    Dog, Household, NewDog, NewHousehold, NewNotice, NewRegisterEvent, Notice,
};
use rathaus_store::keyring::IndexPurpose;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::{Date, Month};

use super::facts::{
    DogFacts, HolderFacts, PaymentFacts, dogs_from, holder_from, mandate_reference, one_line,
    payment_from, text,
};
use super::notice::{
    Authority, Due, Ending, FeeDetails, NoticeContent, NoticeKind, eur, german_date, notice_dogs,
    render,
};
use super::schedule::{Issued, YearTax, one_month_later, payment_plan, settled, year_tax};
use super::{DEREGISTRATION, DecisionDocument, REGISTRATION, REPLACEMENT_TAG};
use crate::{Actor, App, AppError};

/// Counter prefixes of the municipality's own series (kept apart from case references by year 0).
pub(crate) const TAG_SERIES: &str = "HUNDEMARKE";
pub(crate) const KASSENZEICHEN_SERIES: &str = "HUNDEKASSE";

/// How far back a late registration is taxed: the four years of the assessment period
/// (Festsetzungsfrist, § 169 AO via § 12 KAG Bbg).
const YEARS_BACK: i32 = 4;

/// What every decision needs about the municipality.
pub(crate) struct Setting {
    pub tenant: Tenant,
    pub authority: Authority,
    pub history: StatuteHistory,
    pub today: Date,
    pub now: time::OffsetDateTime,
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::BadInput(message.into())
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, AppError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.to_string()))
}

fn from_value<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, AppError> {
    serde_json::from_value(v.clone()).map_err(|e| AppError::Internal(format!("register data: {e}")))
}

/// A dog of the register with its facts read.
#[derive(Debug, Clone)]
pub(crate) struct RegisterDog {
    pub row: Dog,
    pub facts: DogFacts,
}

impl RegisterDog {
    pub fn read(row: Dog) -> Result<RegisterDog, AppError> {
        let facts = from_value(&row.facts)?;
        Ok(RegisterDog { row, facts })
    }

    /// Whether the dog was kept at any time in the year.
    pub fn kept_in(&self, year: i32) -> bool {
        let Ok(from) = self.facts.kept_from_date() else {
            return false;
        };
        from.year() <= year
            && self
                .facts
                .kept_until_date()
                .is_none_or(|u| u.year() >= year)
    }
}

pub(crate) fn tag_number(n: i64) -> String {
    format!("{n:04}")
}

pub(crate) fn kassenzeichen(n: i64) -> String {
    format!("HU-{n:06}")
}

fn has_statute_for(history: &StatuteHistory, year: i32) -> bool {
    let jan1 = Date::from_calendar_date(year, Month::January, 1).unwrap_or(Date::MIN);
    history.valid_on(jan1).is_some()
}

fn installments_of(list: &[Due]) -> Result<Vec<Installment>, AppError> {
    list.iter()
        .map(|d| {
            Ok(Installment {
                due: parse_date(&d.due)
                    .ok_or_else(|| AppError::Internal("notice with a malformed due date".into()))?,
                amount: d.amount,
            })
        })
        .collect()
}

fn engine_error(year: i32, errors: Vec<rathaus_domain::dogtax::FieldError>) -> AppError {
    let list: Vec<String> = errors.iter().map(|e| e.message_de.clone()).collect();
    bad(format!(
        "Die Hundesteuer {year} lässt sich nicht berechnen: {}",
        list.join(" ")
    ))
}

/// The notices of one household and year, latest last (fee notices left out).
fn tax_notices(notices: &[Notice], year: i32) -> Vec<&Notice> {
    notices
        .iter()
        .filter(|n| n.year == year && n.kind != "fee")
        .collect()
}

pub(crate) struct YearChange<'a> {
    pub year: i32,
    pub before: &'a [RegisterDog],
    pub after: &'a [RegisterDog],
    pub force: bool,
    pub ending: Option<Ending>,
}

impl App {
    pub(crate) async fn dogtax_setting(&self, tenant_key: &str) -> Result<Setting, AppError> {
        let key = tenant_key
            .parse()
            .map_err(|e| AppError::Internal(format!("case of tenant {tenant_key:?}: {e}")))?;
        let tenant = self
            .store
            .tenant(&key)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no tenant {tenant_key}")))?;
        let profile = self.effective_profile(&tenant).await?;
        let history = self.dogtax_statutes(&tenant).await?;
        let now = self.now();
        Ok(Setting {
            authority: Authority::of(&tenant, &profile),
            tenant,
            history,
            today: berlin_date(now),
            now,
        })
    }

    /// Puts an approved decision into effect in the caller's transaction and returns its notice:
    /// a registration enters the household's dogs in the register (each with a tag from the
    /// municipality's series) and yields the Hundesteuerbescheid; a deregistration ends the entry
    /// and yields the Änderungsbescheid with the credit; a replacement tag yields the fee notice.
    /// Other services: `Ok(None)`. A case that does not fit the register (e.g. an unknown tag) is
    /// `BadInput` with a German message for the clerk; the caller's transaction should then be
    /// rolled back.
    pub async fn apply_decision(
        &self,
        tx: &mut Tx,
        case: &Case,
        actor: &Actor,
    ) -> Result<Option<DecisionDocument>, AppError> {
        let service = case.service_id.as_str();
        if ![REGISTRATION, DEREGISTRATION, REPLACEMENT_TAG].contains(&service) {
            return Ok(None);
        }
        self.store
            .lock_dogtax_register(tx, &case.tenant_key)
            .await?;
        let setting = self.dogtax_setting(&case.tenant_key).await?;
        let document = match service {
            REGISTRATION => self.decide_registration(tx, &setting, case, actor).await?,
            DEREGISTRATION => {
                self.decide_deregistration(tx, &setting, case, actor)
                    .await?
            }
            _ => self.decide_replacement(tx, &setting, case, actor).await?,
        };
        Ok(Some(document))
    }

    async fn find_household(
        &self,
        tx: &mut Tx,
        tenant: &str,
        holder: &HolderFacts,
        holder_index: &str,
        kassenzeichen: Option<&str>,
    ) -> Result<Option<Household>, AppError> {
        let key = holder.match_key();
        let name_of = |h: &HolderFacts| h.match_key().split('|').next().map(str::to_owned);
        if let Some(kz) = kassenzeichen
            && let Some(h) = self
                .store
                .dogtax_household_by_kassenzeichen(Some(tx), tenant, kz.trim())
                .await?
        {
            let known: HolderFacts = from_value(&h.holder)?;
            if name_of(&known) == name_of(holder) {
                return Ok(Some(h));
            }
        }
        // The index narrows the search; the comparison below decides (and covers households from
        // before the index).
        for h in self
            .store
            .dogtax_households_by_holder(Some(tx), tenant, holder_index)
            .await?
        {
            let known: HolderFacts = from_value(&h.holder)?;
            if known.match_key() == key {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }

    /// The key of the municipality's holder index (it has one once it has a data key).
    pub(crate) async fn holder_index_key(&self, tenant: &str) -> Result<Arc<IndexKey>, AppError> {
        self.store
            .index_key(tenant, IndexPurpose::DogtaxHolders)
            .await?
            .ok_or_else(|| AppError::Internal(format!("tenant {tenant} has no holder index key")))
    }

    async fn register_dogs(
        &self,
        tx: &mut Tx,
        tenant: &str,
        household: &str,
    ) -> Result<Vec<RegisterDog>, AppError> {
        self.store
            .dogtax_dogs(Some(tx), tenant, Some(household))
            .await?
            .into_iter()
            .map(RegisterDog::read)
            .collect()
    }

    async fn decide_registration(
        &self,
        tx: &mut Tx,
        s: &Setting,
        case: &Case,
        actor: &Actor,
    ) -> Result<DecisionDocument, AppError> {
        let tenant = s.tenant.key.as_str();
        let actor_name = actor.audit_name();
        let holder = holder_from(&case.data);
        let new_dogs = dogs_from(&case.data);
        if new_dogs.is_empty() {
            return Err(bad("Die Anmeldung enthält keinen Hund."));
        }
        for d in &new_dogs {
            d.kept_from_date()
                .map_err(|_| bad("Bei einem Hund fehlt das Datum der Aufnahme."))?;
        }
        if !has_statute_for(&s.history, s.today.year()) {
            return Err(bad(format!(
                "Für {} ist keine Hundesteuersatzung für {} hinterlegt (rathaus dogtax statute set).",
                s.tenant.title(),
                s.today.year()
            )));
        }
        let draft = self
            .store
            .dogtax_case_draft_id(tx, tenant, &case.id)
            .await?;
        let mandate = mandate_reference(tenant, draft.as_deref().unwrap_or(&case.id));
        let submitted = berlin_date(from_unix_ms(case.submitted_at_ms));
        let payment = payment_from(&case.data, &mandate, submitted);

        let holder_index = holder.index(self.holder_index_key(tenant).await?.secret(), tenant)?;
        let existing = self
            .find_household(
                tx,
                tenant,
                &holder,
                &holder_index,
                text(&case.data, "existing_kassenzeichen").as_deref(),
            )
            .await?;
        let (household_id, kz, payment, before) = match existing {
            Some(h) => {
                let before = self.register_dogs(tx, tenant, &h.id).await?;
                let old_payment: PaymentFacts = from_value(&h.payment)?;
                // The newest application's bank details and address apply from now on; the
                // previous ones stay in the register's history.
                let payment = if payment.is_debit() || !old_payment.is_debit() {
                    payment
                } else {
                    old_payment
                };
                let holder_v = to_value(&holder)?;
                let payment_v = to_value(&payment)?;
                if holder_v != h.holder || payment_v != h.payment {
                    self.store
                        .update_dogtax_household(
                            tx,
                            tenant,
                            &h.id,
                            &payment.method,
                            &holder_v,
                            &holder_index,
                            &payment_v,
                            s.now,
                        )
                        .await?;
                    self.store
                        .append_dogtax_event(
                            tx,
                            &NewRegisterEvent {
                                seq: None,
                                tenant_key: tenant,
                                household_id: &h.id,
                                dog_id: None,
                                actor: &actor_name,
                                kind: "holder_changed",
                                case_id: Some(&case.id),
                                snapshot: &json!({"holder": holder_v, "payment": payment_v}),
                                now: s.now,
                            },
                        )
                        .await?;
                }
                (h.id, h.kassenzeichen, payment, before)
            }
            None => {
                let id = new_record_id(self.rng.as_ref())?;
                let n = next_reference_number(tx, tenant, KASSENZEICHEN_SERIES, 0).await?;
                let kz = kassenzeichen(n);
                let holder_v = to_value(&holder)?;
                let payment_v = to_value(&payment)?;
                self.store
                    .insert_dogtax_household(
                        tx,
                        &NewHousehold {
                            id: &id,
                            tenant_key: tenant,
                            kassenzeichen: &kz,
                            payment_method: &payment.method,
                            holder: &holder_v,
                            holder_index: &holder_index,
                            payment: &payment_v,
                            now: s.now,
                        },
                    )
                    .await?;
                self.store
                    .append_dogtax_event(
                        tx,
                        &NewRegisterEvent {
                                seq: None,
                            tenant_key: tenant,
                            household_id: &id,
                            dog_id: None,
                            actor: &actor_name,
                            kind: "household_created",
                            case_id: Some(&case.id),
                            snapshot: &json!({"holder": holder_v, "payment": payment_v, "kassenzeichen": kz}),
                            now: s.now,
                        },
                    )
                    .await?;
                (id, kz, payment, Vec::new())
            }
        };

        let mut after = before.clone();
        let mut tags = Vec::new();
        for facts in new_dogs {
            let id = new_record_id(self.rng.as_ref())?;
            let tag = tag_number(next_reference_number(tx, tenant, TAG_SERIES, 0).await?);
            let facts_v = to_value(&facts)?;
            self.store
                .insert_dogtax_dog(
                    tx,
                    &NewDog {
                        entry_no: None,
                        id: &id,
                        tenant_key: tenant,
                        household_id: &household_id,
                        status: "active",
                        facts: &facts_v,
                        now: s.now,
                    },
                )
                .await?;
            self.store
                .insert_dogtax_tag(tx, tenant, &tag, &id, s.now)
                .await?;
            self.store
                .append_dogtax_event(
                    tx,
                    &NewRegisterEvent {
                        seq: None,
                        tenant_key: tenant,
                        household_id: &household_id,
                        dog_id: Some(&id),
                        actor: &actor_name,
                        kind: "registered",
                        case_id: Some(&case.id),
                        snapshot: &json!({"facts": facts_v, "tag": tag}),
                        now: s.now,
                    },
                )
                .await?;
            after.push(RegisterDog {
                row: Dog {
                    id,
                    household_id: household_id.clone(),
                    status: "active".into(),
                    facts: facts_v,
                    tag: Some(tag.clone()),
                    created_at_ms: to_unix_ms(s.now),
                    version: 1,
                },
                facts,
            });
            tags.push(tag);
        }

        let notices = self
            .store
            .dogtax_notices(Some(tx), tenant, Some(&household_id), None)
            .await?;
        let first_year = after
            .iter()
            .skip(before.len())
            .filter_map(|d| d.facts.kept_from_date().ok())
            .map(|d| d.year())
            .min()
            .unwrap_or(s.today.year())
            .min(s.today.year())
            .max(s.today.year() - YEARS_BACK);
        let last_year = notices
            .iter()
            .map(|n| n.year)
            .max()
            .unwrap_or(s.today.year())
            .max(s.today.year());
        let mut contents = Vec::new();
        for year in first_year..=last_year {
            let change = YearChange {
                year,
                before: &before,
                after: &after,
                force: year == s.today.year(),
                ending: None,
            };
            if let Some(c) = self
                .issue_year_notice(
                    tx,
                    s,
                    &household_id,
                    &kz,
                    &holder,
                    &payment,
                    &notices,
                    change,
                    Some(case),
                )
                .await?
            {
                contents.push(c);
            }
        }
        let this_year = contents
            .iter()
            .find(|c| c.year == s.today.year())
            .map(|c| c.total)
            .unwrap_or_default();
        let object = format!("dogtax-household:{household_id}");
        let outcome = format!(
            "ok: {} dogs registered, tags {}",
            tags.len(),
            tags.join(", ")
        );
        append(
            tx,
            &NewAuditEntry {
                at: s.now,
                actor: &actor_name,
                tenant: Some(tenant),
                action: "dogtax.register",
                object: &object,
                outcome: &outcome,
            },
        )
        .await?;
        let pdf = render(&contents)?;
        Ok(DecisionDocument {
            title: document_title(&contents),
            pdf,
            summary: format!(
                "Hundesteuerregister: {} {} eingetragen (Steuermarken {}), Kassenzeichen {kz}; Steuer {}: {}",
                tags.len(),
                if tags.len() == 1 { "Hund" } else { "Hunde" },
                tags.join(", "),
                s.today.year(),
                eur(this_year)
            ),
        })
    }

    /// Issues the notice of one year after a change of the register, unless nothing changed in
    /// that year (and it is not forced). Returns its content.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn issue_year_notice(
        &self,
        tx: &mut Tx,
        s: &Setting,
        household_id: &str,
        kz: &str,
        holder: &HolderFacts,
        payment: &PaymentFacts,
        notices: &[Notice],
        change: YearChange<'_>,
        case: Option<&Case>,
    ) -> Result<Option<NoticeContent>, AppError> {
        let year = change.year;
        if !has_statute_for(&s.history, year) {
            return Ok(None);
        }
        let kept = |dogs: &[RegisterDog]| -> Vec<RegisterDog> {
            dogs.iter().filter(|d| d.kept_in(year)).cloned().collect()
        };
        let before = kept(change.before);
        let after = kept(change.after);
        let entries = |dogs: &[RegisterDog]| -> Result<Vec<DogEntry>, AppError> {
            dogs.iter().map(|d| d.facts.entry()).collect()
        };
        let chain: Vec<NoticeContent> = tax_notices(notices, year)
            .iter()
            .map(|n| from_value(&n.content))
            .collect::<Result<_, _>>()?;
        let previous = chain.last().cloned();
        let new: YearTax =
            year_tax(&s.history, &entries(&after)?, year).map_err(|e| engine_error(year, e))?;
        let (old_schedule, paid) = match &previous {
            Some(p) => {
                let issued = chain
                    .iter()
                    .map(|c| {
                        Ok(Issued {
                            issued_on: parse_date(&c.issued_on).ok_or_else(|| {
                                AppError::Internal("notice with a malformed date".into())
                            })?,
                            installments: installments_of(&c.installments)?,
                            refund: c.refund,
                        })
                    })
                    .collect::<Result<Vec<_>, AppError>>()?;
                (installments_of(&p.schedule)?, settled(&issued, s.today))
            }
            None => {
                // Nothing issued here for the year (a register taken over from elsewhere): the
                // periods already due count as settled under the previous procedure.
                let old = year_tax(&s.history, &entries(&before)?, year)
                    .map_err(|e| engine_error(year, e))?
                    .schedule;
                let paid = old
                    .iter()
                    .filter(|i| i.due < s.today)
                    .map(|i| i.amount)
                    .sum();
                (old, paid)
            }
        };
        if old_schedule == new.schedule && !change.force {
            return Ok(None);
        }
        let plan = payment_plan(paid, &new.schedule, s.today);
        let kind = if previous.is_none() && change.ending.is_none() {
            NoticeKind::Tax
        } else {
            NoticeKind::Change
        };
        let jan1 = Date::from_calendar_date(year, Month::January, 1).unwrap_or(Date::MIN);
        let statute = s.history.valid_on(jan1);
        let content = NoticeContent {
            kind,
            year,
            issued_on: s.today.to_string(),
            issued_at_ms: to_unix_ms(s.now),
            case_reference: case.map(|c| c.reference.clone()),
            kassenzeichen: kz.to_owned(),
            authority: s.authority.clone(),
            holder: holder.clone(),
            statute_valid_from: statute.map(|st| st.valid_from().to_string()),
            dogs: notice_dogs(
                new.assessment.as_ref(),
                statute,
                &after.iter().map(|d| d.row.tag.clone()).collect::<Vec<_>>(),
                &after
                    .iter()
                    .map(|d| d.facts.kept_until.clone())
                    .collect::<Vec<_>>(),
                &after
                    .iter()
                    .map(|d| d.facts.dangerous.is_some())
                    .collect::<Vec<_>>(),
                &after
                    .iter()
                    .map(|d| (d.facts.exemption.clone(), d.facts.reduction.clone()))
                    .collect::<Vec<_>>(),
            ),
            schedule: new.schedule.iter().map(Due::from_installment).collect(),
            installments: plan
                .installments
                .iter()
                .map(Due::from_installment)
                .collect(),
            total: new.total(),
            previous_total: match (&previous, kind) {
                (Some(p), _) => Some(p.total),
                (None, NoticeKind::Change) => Some(old_schedule.iter().map(|i| i.amount).sum()),
                _ => None,
            },
            refund: plan.refund,
            payment: payment.clone(),
            ending: change.ending,
            fee: None,
        };
        let id = new_record_id(self.rng.as_ref())?;
        let issued_on = s.today.to_string();
        self.store
            .insert_dogtax_notice(
                tx,
                &NewNotice {
                    seq: None,
                    id: &id,
                    tenant_key: s.tenant.key.as_str(),
                    household_id,
                    year,
                    kind: kind.code(),
                    case_id: case.map(|c| c.id.as_str()),
                    issued_on: &issued_on,
                    content: &to_value(&content)?,
                    now: s.now,
                },
            )
            .await?;
        Ok(Some(content))
    }

    /// The active dog a deregistration or replacement names: by its tag, or by the household's
    /// Kassenzeichen and the dog's name.
    async fn named_dog(
        &self,
        tx: &mut Tx,
        tenant: &str,
        data: &Value,
    ) -> Result<(Household, Vec<RegisterDog>, usize), AppError> {
        let given = text(data, "tag_number").unwrap_or_default();
        let not_found = || {
            bad(format!(
                "Im Hundesteuerregister ist kein angemeldeter Hund mit der Steuermarke oder dem Kassenzeichen „{}“ verzeichnet.",
                given.chars().take(20).collect::<String>()
            ))
        };
        let (household_id, dog_id) = match self.store.dogtax_tag(Some(tx), tenant, &given).await? {
            Some(t) if t.invalidated_at_ms.is_none() => (t.household_id, Some(t.dog_id)),
            Some(_) => {
                return Err(bad(format!(
                    "Die Steuermarke {given} ist nicht mehr gültig (abgemeldet oder ersetzt)."
                )));
            }
            None => {
                let h = self
                    .store
                    .dogtax_household_by_kassenzeichen(Some(tx), tenant, &given)
                    .await?
                    .ok_or_else(not_found)?;
                (h.id, None)
            }
        };
        let household = self
            .store
            .dogtax_household(Some(tx), tenant, &household_id)
            .await?
            .ok_or_else(not_found)?;
        let dogs = self.register_dogs(tx, tenant, &household_id).await?;
        let index = match dog_id {
            Some(id) => dogs.iter().position(|d| d.row.id == id),
            None => {
                let wanted = text(data, "dog_name").unwrap_or_default().to_lowercase();
                let matching: Vec<usize> = dogs
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| {
                        d.row.status == "active" && d.facts.name.trim().to_lowercase() == wanted
                    })
                    .map(|(i, _)| i)
                    .collect();
                match matching.as_slice() {
                    [one] => Some(*one),
                    [] => None,
                    _ => {
                        return Err(bad(
                            "Unter diesem Kassenzeichen sind mehrere Hunde dieses Namens angemeldet; bitte die Steuermarke angeben.",
                        ));
                    }
                }
            }
        }
        .ok_or_else(not_found)?;
        if dogs.get(index).is_none_or(|d| d.row.status != "active") {
            return Err(bad("Dieser Hund ist bereits abgemeldet."));
        }
        Ok((household, dogs, index))
    }

    async fn decide_deregistration(
        &self,
        tx: &mut Tx,
        s: &Setting,
        case: &Case,
        actor: &Actor,
    ) -> Result<DecisionDocument, AppError> {
        let tenant = s.tenant.key.as_str();
        let actor_name = actor.audit_name();
        let end = text(&case.data, "end_date")
            .as_deref()
            .and_then(parse_date)
            .ok_or_else(|| bad("Das Datum der Abmeldung fehlt."))?;
        let (household, before, index) = self.named_dog(tx, tenant, &case.data).await?;
        let mut after = before.clone();
        let Some(dog) = after.get_mut(index) else {
            return Err(bad("Hund nicht gefunden."));
        };
        if end < dog.facts.kept_from_date()? {
            return Err(bad(format!(
                "Das Abmeldedatum {} liegt vor der Aufnahme des Hundes am {}.",
                german_date(&end.to_string()),
                german_date(&dog.facts.kept_from)
            )));
        }
        let reason = text(&case.data, "reason");
        dog.facts.kept_until = Some(end.to_string());
        dog.facts.end_reason = reason.clone();
        if reason.as_deref() == Some("given_away") {
            let name = text(&case.data, "new_holder_name").unwrap_or_default();
            let address = text(&case.data, "new_holder_address")
                .map(|a| one_line(&a))
                .unwrap_or_default();
            dog.facts.new_holder = Some(format!("{name}, {address}"));
        }
        let facts_v = to_value(&dog.facts)?;
        self.store
            .update_dogtax_dog(
                tx,
                tenant,
                &dog.row.id,
                "ended",
                &facts_v,
                dog.row.version,
                s.now,
            )
            .await?;
        let tag = dog.row.tag.clone();
        if let Some(t) = &tag {
            self.store
                .invalidate_dogtax_tag(tx, tenant, t, "deregistered", s.now)
                .await?;
        }
        self.store
            .append_dogtax_event(
                tx,
                &NewRegisterEvent {
                    seq: None,
                    tenant_key: tenant,
                    household_id: &household.id,
                    dog_id: Some(&dog.row.id),
                    actor: &actor_name,
                    kind: "ended",
                    case_id: Some(&case.id),
                    snapshot: &json!({"facts": facts_v, "tag": tag}),
                    now: s.now,
                },
            )
            .await?;
        let ending = Ending {
            dog_name: dog.facts.name.clone(),
            tag: tag.clone(),
            kept_until: end.to_string(),
            reason,
        };
        let holder: HolderFacts = from_value(&household.holder)?;
        let payment: PaymentFacts = from_value(&household.payment)?;
        let notices = self
            .store
            .dogtax_notices(Some(tx), tenant, Some(&household.id), None)
            .await?;
        let last_year = notices
            .iter()
            .map(|n| n.year)
            .max()
            .unwrap_or(s.today.year())
            .max(s.today.year());
        let mut contents = Vec::new();
        for year in end.year()..=last_year.max(end.year()) {
            let change = YearChange {
                year,
                before: &before,
                after: &after,
                force: false,
                ending: Some(ending.clone()),
            };
            if let Some(c) = self
                .issue_year_notice(
                    tx,
                    s,
                    &household.id,
                    &household.kassenzeichen,
                    &holder,
                    &payment,
                    &notices,
                    change,
                    Some(case),
                )
                .await?
            {
                contents.push(c);
            }
        }
        if contents.is_empty() {
            // Nothing changes in money (e.g. an exempt dog): the change notice still confirms the end.
            let year = if has_statute_for(&s.history, end.year()) {
                end.year()
            } else {
                s.today.year()
            };
            let change = YearChange {
                year,
                before: &before,
                after: &after,
                force: true,
                ending: Some(ending.clone()),
            };
            if let Some(c) = self
                .issue_year_notice(
                    tx,
                    s,
                    &household.id,
                    &household.kassenzeichen,
                    &holder,
                    &payment,
                    &notices,
                    change,
                    Some(case),
                )
                .await?
            {
                contents.push(c);
            }
        }
        if contents.is_empty() {
            return Err(bad(format!(
                "Für {} ist keine Hundesteuersatzung hinterlegt.",
                end.year()
            )));
        }
        let credit: Decimal = contents
            .iter()
            .map(|c| c.previous_total.unwrap_or(c.total) - c.total)
            .sum();
        let object = format!("dogtax-household:{}", household.id);
        let outcome = format!(
            "ok: tag {} ended",
            tag.clone().unwrap_or_else(|| "-".into())
        );
        append(
            tx,
            &NewAuditEntry {
                at: s.now,
                actor: &actor_name,
                tenant: Some(tenant),
                action: "dogtax.deregister",
                object: &object,
                outcome: &outcome,
            },
        )
        .await?;
        let pdf = render(&contents)?;
        Ok(DecisionDocument {
            title: document_title(&contents),
            pdf,
            summary: format!(
                "Hundesteuerregister: Steuermarke {} zum {} abgemeldet; Gutschrift {}",
                tag.unwrap_or_else(|| "–".into()),
                german_date(&end.to_string()),
                eur(credit)
            ),
        })
    }

    async fn decide_replacement(
        &self,
        tx: &mut Tx,
        s: &Setting,
        case: &Case,
        actor: &Actor,
    ) -> Result<DecisionDocument, AppError> {
        let tenant = s.tenant.key.as_str();
        let actor_name = actor.audit_name();
        let statute = s.history.valid_on(s.today).ok_or_else(|| {
            bad(format!(
                "Für {} ist keine Hundesteuersatzung hinterlegt.",
                s.tenant.title()
            ))
        })?;
        let (household, dogs, index) = self.named_dog(tx, tenant, &case.data).await?;
        let dog = dogs.get(index).ok_or_else(|| bad("Hund nicht gefunden."))?;
        let old_tag = dog
            .row
            .tag
            .clone()
            .ok_or_else(|| bad("Für diesen Hund ist keine gültige Steuermarke verzeichnet."))?;
        let new_tag = tag_number(next_reference_number(tx, tenant, TAG_SERIES, 0).await?);
        self.store
            .invalidate_dogtax_tag(tx, tenant, &old_tag, "replaced", s.now)
            .await?;
        self.store
            .insert_dogtax_tag(tx, tenant, &new_tag, &dog.row.id, s.now)
            .await?;
        self.store
            .append_dogtax_event(
                tx,
                &NewRegisterEvent {
                                seq: None,
                    tenant_key: tenant,
                    household_id: &household.id,
                    dog_id: Some(&dog.row.id),
                    actor: &actor_name,
                    kind: "tag_replaced",
                    case_id: Some(&case.id),
                    snapshot: &json!({"old_tag": old_tag, "tag": new_tag, "reason": text(&case.data, "tag_reason")}),
                    now: s.now,
                },
            )
            .await?;
        let fee = statute.replacement_tag_fee();
        let due = one_month_later(s.today);
        let holder: HolderFacts = from_value(&household.holder)?;
        let payment: PaymentFacts = from_value(&household.payment)?;
        let content = NoticeContent {
            kind: NoticeKind::Fee,
            year: s.today.year(),
            issued_on: s.today.to_string(),
            issued_at_ms: to_unix_ms(s.now),
            case_reference: Some(case.reference.clone()),
            kassenzeichen: household.kassenzeichen.clone(),
            authority: s.authority.clone(),
            holder,
            statute_valid_from: Some(statute.valid_from().to_string()),
            dogs: Vec::new(),
            schedule: Vec::new(),
            installments: if fee.is_zero() {
                Vec::new()
            } else {
                vec![Due {
                    due: due.to_string(),
                    amount: fee,
                }]
            },
            total: fee,
            previous_total: None,
            refund: Decimal::ZERO,
            payment,
            ending: None,
            fee: Some(FeeDetails {
                amount: fee,
                due: due.to_string(),
                dog_name: dog.facts.name.clone(),
                old_tag: old_tag.clone(),
                new_tag: new_tag.clone(),
            }),
        };
        let id = new_record_id(self.rng.as_ref())?;
        let issued_on = s.today.to_string();
        self.store
            .insert_dogtax_notice(
                tx,
                &NewNotice {
                    seq: None,
                    id: &id,
                    tenant_key: tenant,
                    household_id: &household.id,
                    year: s.today.year(),
                    kind: "fee",
                    case_id: Some(&case.id),
                    issued_on: &issued_on,
                    content: &to_value(&content)?,
                    now: s.now,
                },
            )
            .await?;
        let object = format!("dogtax-household:{}", household.id);
        let outcome = format!("ok: tag {old_tag} replaced by {new_tag}");
        append(
            tx,
            &NewAuditEntry {
                at: s.now,
                actor: &actor_name,
                tenant: Some(tenant),
                action: "dogtax.replace_tag",
                object: &object,
                outcome: &outcome,
            },
        )
        .await?;
        let pdf = render(std::slice::from_ref(&content))?;
        Ok(DecisionDocument {
            title: content.title(),
            pdf,
            summary: format!(
                "Ersatz-Steuermarke {new_tag} für Marke {old_tag} ausgegeben; Gebühr {}",
                eur(fee)
            ),
        })
    }

    /// A stored notice as PDF, exactly as issued.
    pub async fn dogtax_notice_pdf(
        &self,
        tenant: &Tenant,
        notice_id: &str,
    ) -> Result<(String, Vec<u8>), AppError> {
        let notice = self
            .store
            .dogtax_notice(tenant.key.as_str(), notice_id)
            .await?
            .ok_or_else(|| AppError::NotFound("no such notice".into()))?;
        let content: NoticeContent = from_value(&notice.content)?;
        let pdf = render(std::slice::from_ref(&content))?;
        Ok((content.title(), pdf))
    }

    /// The notices issued for a municipality's households (optionally one year), as content.
    pub async fn dogtax_notices(
        &self,
        tenant: &Tenant,
        year: Option<i32>,
    ) -> Result<Vec<(Notice, NoticeContent)>, AppError> {
        let notices = self
            .store
            .dogtax_notices(None, tenant.key.as_str(), None, year)
            .await?;
        notices
            .into_iter()
            .map(|n| {
                let c = from_value(&n.content)?;
                Ok((n, c))
            })
            .collect()
    }
}

/// "Hundesteuerbescheid 2026", or for several years e.g. "Hundesteuerbescheid 2025 und
/// Änderungsbescheid Hundesteuer 2026".
pub(crate) fn document_title(contents: &[NoticeContent]) -> String {
    if let [one] = contents {
        return one.title();
    }
    let mut parts: Vec<String> = Vec::new();
    for kind in [NoticeKind::Tax, NoticeKind::Change, NoticeKind::Fee] {
        let years: Vec<String> = contents
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.year.to_string())
            .collect();
        if years.is_empty() {
            continue;
        }
        let years = years.join(", ");
        parts.push(match kind {
            NoticeKind::Tax => format!("Hundesteuerbescheid {years}"),
            NoticeKind::Change => format!("Änderungsbescheid Hundesteuer {years}"),
            NoticeKind::Fee => "Gebührenbescheid Ersatz-Steuermarke".to_owned(),
        });
    }
    if parts.is_empty() {
        "Bescheid".to_owned()
    } else {
        parts.join(" und ")
    }
}

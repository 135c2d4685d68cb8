//! What the check-your-answers page shows before a dog-tax application is submitted: the tax the
//! engine computes, the SEPA mandate with its reference, the final amount or credit of a
//! deregistration, the fee of a replacement tag. Rendered as text lines on the server, so the
//! page needs no JavaScript.

use rathaus_domain::dogtax::{DogEntry, QuoteRequest, deregistration_delta, quote};
use rathaus_domain::localtime::berlin_date;
use rathaus_domain::service::Lang;
use rathaus_domain::service::form::parse_date;
use rust_decimal::Decimal;

use super::facts::{HolderFacts, dogs_from, holder_from, mandate_reference, text};
use super::notice::{eur, german_date};
use super::register::RegisterDog;
use crate::citizen::DraftSession;
use crate::{App, AppError};

fn money(lang: Lang, amount: Decimal) -> String {
    match lang {
        Lang::En => {
            let mut a = amount.round_dp(2);
            a.rescale(2);
            format!("€{a}")
        }
        _ => eur(amount),
    }
}

fn date(lang: Lang, iso: &str) -> String {
    match lang {
        Lang::En => parse_date(iso).map_or_else(
            || iso.to_owned(),
            |d| format!("{} {} {}", d.day(), d.month(), d.year()),
        ),
        _ => german_date(iso),
    }
}

fn t(lang: Lang, de: String, en: String, ls: String) -> String {
    match lang {
        Lang::De => de,
        Lang::En => en,
        Lang::Ls => ls,
    }
}

fn example_note(lang: Lang) -> String {
    t(
        lang,
        "Die Steuersätze dieser Demo sind Beispielwerte, die gegen die Satzung der Gemeinde zu prüfen sind, wo ein Wert nicht veröffentlicht ist.".into(),
        "The rates in this demo are example values, to be confirmed against the municipality's statute where a value is not published.".into(),
        "Die Beträge sind nur Beispiele.".into(),
    )
}

impl App {
    /// `dogtax.quote`: the year's tax for the dogs entered so far.
    pub(crate) async fn dogtax_quote_preview(
        &self,
        s: &DraftSession,
        lang: Lang,
    ) -> Result<Vec<String>, AppError> {
        let history = self.dogtax_statutes(&s.tenant).await?;
        let today = berlin_date(self.now());
        let year = today.year();
        let authority = s.tenant.title();
        if history.is_empty() {
            return Ok(vec![t(
                lang,
                format!(
                    "Für {authority} ist noch keine Hundesteuersatzung hinterlegt; die Steuer wird im Bescheid festgesetzt."
                ),
                format!(
                    "No dog-tax statute of {authority} is on file yet; the tax will be set in the notice."
                ),
                format!(
                    "Wir können die Steuer noch nicht ausrechnen. Sie bekommen einen Brief von {authority}."
                ),
            )]);
        }
        let dogs: Vec<DogEntry> = dogs_from(&s.draft.data)
            .iter()
            .filter_map(|d| d.entry().ok())
            .collect();
        if dogs.is_empty() {
            return Ok(vec![t(
                lang,
                "Sobald Sie einen Hund mit dem Datum der Aufnahme angegeben haben, sehen Sie hier die Steuer.".into(),
                "Once you have entered a dog with the date it was taken in, the tax is shown here.".into(),
                "Hier steht die Steuer, wenn Sie Ihren Hund angegeben haben.".into(),
            )]);
        }
        let request = QuoteRequest {
            year,
            assessment_date: Some(today),
            dogs,
        };
        let q = match quote(&history, s.tenant.key.as_str(), &request, today) {
            Ok(q) => q,
            Err(errors) => {
                let list: Vec<String> = errors
                    .iter()
                    .map(|e| match lang {
                        Lang::En => e.message.clone(),
                        _ => e.message_de.clone(),
                    })
                    .collect();
                return Ok(vec![t(
                    lang,
                    format!(
                        "Die Steuer kann noch nicht berechnet werden: {}",
                        list.join(" ")
                    ),
                    format!("The tax cannot be computed yet: {}", list.join("; ")),
                    "Wir können die Steuer noch nicht ausrechnen. Bitte prüfen Sie Ihre Angaben."
                        .into(),
                )]);
            }
        };
        let mut lines = Vec::new();
        for d in &q.dogs {
            let amount = money(lang, d.amount);
            lines.push(t(
                lang,
                format!("{}: {} Monate steuerpflichtig, {amount}", d.name, d.months),
                format!("{}: taxable for {} months, {amount}", d.name, d.months),
                format!("{}: {} Monate Steuer, zusammen {amount}", d.name, d.months),
            ));
        }
        for i in &q.installments {
            let (due, amount) = (date(lang, &i.due.to_string()), money(lang, i.amount));
            lines.push(t(
                lang,
                format!("Fällig am {due}: {amount}"),
                format!("Due on {due}: {amount}"),
                format!("Bis zum {due} zahlen Sie: {amount}"),
            ));
        }
        let total = money(lang, q.total);
        lines.push(t(
            lang,
            format!("Hundesteuer {year} insgesamt: {total}"),
            format!("Dog tax for {year} in total: {total}"),
            format!("Steuer für {year}: {total}"),
        ));
        lines.push(t(
            lang,
            "Vorschau nach der Hundesteuersatzung. Verbindlich ist der Bescheid; sind in Ihrem Haushalt schon Hunde angemeldet, kann sich der Betrag ändern.".into(),
            "A preview under the dog-tax statute. The notice is binding; if dogs of your household are already registered, the amount may differ.".into(),
            "Das ist nur eine Vorschau. Was Sie zahlen müssen, steht im Bescheid.".into(),
        ));
        if self.effective_profile(&s.tenant).await?.example_data {
            lines.push(example_note(lang));
        }
        Ok(lines)
    }

    /// `dogtax.sepa_mandate`: the mandate with the municipality's creditor id and the reference
    /// this application will carry.
    pub(crate) async fn dogtax_mandate_preview(
        &self,
        s: &DraftSession,
        lang: Lang,
    ) -> Result<Vec<String>, AppError> {
        let authority = s.tenant.title();
        if text(&s.draft.data, "payment_method").as_deref() != Some("debit") {
            return Ok(vec![t(
                lang,
                "Sie zahlen per Überweisung. Bankverbindung, Kassenzeichen und einen GiroCode für Ihre Banking-App finden Sie im Bescheid.".into(),
                "You pay by bank transfer. The bank details, your payment reference and a GiroCode for your banking app are in the notice.".into(),
                "Sie überweisen das Geld selbst. Wie das geht, steht im Bescheid.".into(),
            )]);
        }
        let profile = self.effective_profile(&s.tenant).await?;
        let creditor = profile.creditor_id.unwrap_or_else(|| {
            t(
                lang,
                "wird mit dem Bescheid mitgeteilt".into(),
                "given in the notice".into(),
                "steht im Bescheid".into(),
            )
        });
        let reference = mandate_reference(s.tenant.key.as_str(), &s.draft.id);
        Ok(vec![
            t(
                lang,
                format!("Zahlungsempfänger: {authority}"),
                format!("Creditor: {authority}"),
                format!("Das Geld bekommt: {authority}"),
            ),
            t(
                lang,
                format!("Gläubiger-Identifikationsnummer: {creditor}"),
                format!("Creditor identifier: {creditor}"),
                format!("Nummer von {authority}: {creditor}"),
            ),
            t(
                lang,
                format!("Mandatsreferenz: {reference}"),
                format!("Mandate reference: {reference}"),
                format!("Nummer von Ihrer Erlaubnis: {reference}"),
            ),
            t(
                lang,
                format!(
                    "SEPA-Lastschriftmandat: Ich ermächtige die {authority}, Zahlungen von meinem Konto mittels Lastschrift einzuziehen. Zugleich weise ich mein Kreditinstitut an, die von der {authority} auf mein Konto gezogenen Lastschriften einzulösen. Hinweis: Ich kann innerhalb von acht Wochen, beginnend mit dem Belastungsdatum, die Erstattung des belasteten Betrages verlangen. Es gelten dabei die mit meinem Kreditinstitut vereinbarten Bedingungen."
                ),
                format!(
                    "SEPA direct debit mandate: I authorise {authority} to collect payments from my account by direct debit. At the same time I instruct my bank to honour the direct debits drawn on my account by {authority}. Note: I may request a refund of the amount debited within eight weeks of the debit date, under the terms agreed with my bank."
                ),
                format!(
                    "Sie erlauben {authority}: Das Geld für die Hunde-Steuer wird von Ihrem Konto abgebucht. Sie können das Geld in 8 Wochen zurückholen."
                ),
            ),
        ])
    }

    /// `dogtax.deregistration_preview`: what ending the keeping changes in the year's tax. The
    /// register is only consulted when tag (or Kassenzeichen) and the holder's name agree, so that
    /// nobody learns about another household by trying tag numbers.
    pub(crate) async fn dogtax_deregistration_preview(
        &self,
        s: &DraftSession,
        lang: Lang,
    ) -> Result<Vec<String>, AppError> {
        let general = vec![t(
            lang,
            "Die Steuerpflicht endet mit Ablauf des Monats, in dem Sie den Hund abgegeben haben. Den Endbetrag oder Ihre Gutschrift teilen wir Ihnen im Änderungsbescheid mit.".into(),
            "Liability ends with the month in which the dog left your household. The final amount or your credit will be set out in the change notice.".into(),
            "Sie zahlen bis zum Ende von dem Monat, in dem der Hund weg ist. Wie viel Geld Sie zurückbekommen, steht im Brief.".into(),
        )];
        let data = &s.draft.data;
        let (Some(given), Some(end)) = (
            text(data, "tag_number"),
            text(data, "end_date").as_deref().and_then(parse_date),
        ) else {
            return Ok(general);
        };
        let tenant = s.tenant.key.as_str();
        let household = match self.store.dogtax_tag(None, tenant, &given).await? {
            Some(tag) if tag.invalidated_at_ms.is_none() => self
                .store
                .dogtax_household(None, tenant, &tag.household_id)
                .await?
                .map(|h| (h, Some(tag.dog_id))),
            _ => self
                .store
                .dogtax_household_by_kassenzeichen(None, tenant, &given)
                .await?
                .map(|h| (h, None)),
        };
        let Some((household, dog_id)) = household else {
            return Ok(general);
        };
        let Ok(known) = serde_json::from_value::<HolderFacts>(household.holder.clone()) else {
            return Ok(general);
        };
        let entered = holder_from(data);
        let name = |h: &HolderFacts| h.match_key().split('|').next().map(str::to_owned);
        if name(&known) != name(&entered) {
            return Ok(general);
        }
        let dogs: Vec<RegisterDog> = self
            .store
            .dogtax_dogs(None, tenant, Some(&household.id))
            .await?
            .into_iter()
            .map(RegisterDog::read)
            .collect::<Result<_, _>>()?;
        let year = end.year();
        let kept: Vec<&RegisterDog> = dogs.iter().filter(|d| d.kept_in(year)).collect();
        let wanted = text(data, "dog_name").unwrap_or_default().to_lowercase();
        let index = kept.iter().position(|d| match &dog_id {
            Some(id) => &d.row.id == id,
            None => d.row.status == "active" && d.facts.name.trim().to_lowercase() == wanted,
        });
        let Some(index) = index else {
            return Ok(general);
        };
        let entries: Vec<DogEntry> = kept
            .iter()
            .map(|d| d.facts.entry())
            .collect::<Result<_, _>>()?;
        let history = self.dogtax_statutes(&s.tenant).await?;
        let today = berlin_date(self.now());
        let request = QuoteRequest {
            year,
            assessment_date: None,
            dogs: entries,
        };
        let Ok(delta) = deregistration_delta(&history, &request, index, end, today) else {
            return Ok(general);
        };
        let amount = money(lang, delta.abs());
        let line = if delta > Decimal::ZERO {
            t(
                lang,
                format!(
                    "Die Hundesteuer {year} Ihres Haushalts sinkt durch die Abmeldung um {amount}; zu viel Gezahltes wird verrechnet oder erstattet."
                ),
                format!(
                    "Deregistering lowers your household's dog tax for {year} by {amount}; anything overpaid is set off or refunded."
                ),
                format!(
                    "Sie zahlen für {year} {amount} weniger. Zu viel bezahltes Geld bekommen Sie zurück."
                ),
            )
        } else if delta < Decimal::ZERO {
            t(
                lang,
                format!(
                    "Die Hundesteuer {year} Ihres Haushalts steigt durch die Abmeldung um {amount}."
                ),
                format!("Deregistering raises your household's dog tax for {year} by {amount}."),
                format!("Sie zahlen für {year} {amount} mehr."),
            )
        } else {
            t(
                lang,
                format!("Die Abmeldung ändert die Hundesteuer {year} Ihres Haushalts nicht."),
                format!("Deregistering does not change your household's dog tax for {year}."),
                format!("Für {year} ändert sich nichts."),
            )
        };
        Ok(vec![
            line,
            t(
                lang,
                "Vorschau; verbindlich ist der Änderungsbescheid.".into(),
                "A preview; the change notice is binding.".into(),
                "Das ist nur eine Vorschau.".into(),
            ),
        ])
    }

    /// `dogtax.replacement_fee`: the statute's fee for a replacement tag.
    pub(crate) async fn dogtax_fee_preview(
        &self,
        s: &DraftSession,
        lang: Lang,
    ) -> Result<Vec<String>, AppError> {
        let history = self.dogtax_statutes(&s.tenant).await?;
        let today = berlin_date(self.now());
        let Some(statute) = history.valid_on(today) else {
            return Ok(vec![t(
                lang,
                "Die Gebühr richtet sich nach der Hundesteuersatzung und wird im Bescheid festgesetzt.".into(),
                "The fee is set by the dog-tax statute and stated in the notice.".into(),
                "Was die neue Marke kostet, steht im Brief.".into(),
            )]);
        };
        let fee = money(lang, statute.replacement_tag_fee());
        Ok(vec![t(
            lang,
            format!(
                "Gebühr für die Ersatz-Steuermarke: {fee} (fällig einen Monat nach dem Gebührenbescheid)"
            ),
            format!("Fee for the replacement tag: {fee} (due one month after the fee notice)"),
            format!("Die neue Marke kostet {fee}."),
        )])
    }
}

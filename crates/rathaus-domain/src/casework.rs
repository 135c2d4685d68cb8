//! The life of a case (Vorgang) in the office: its statuses and the moves between them.
//!
//! received → in_progress ⇄ waiting_for_citizen → decided → closed. A decision may need a second
//! clerk's confirmation (four-eyes rule); until then it is only proposed and the case stays where
//! it was.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Received,
    InProgress,
    WaitingForCitizen,
    Decided,
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 5] = [
        CaseStatus::Received,
        CaseStatus::InProgress,
        CaseStatus::WaitingForCitizen,
        CaseStatus::Decided,
        CaseStatus::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CaseStatus::Received => "received",
            CaseStatus::InProgress => "in_progress",
            CaseStatus::WaitingForCitizen => "waiting_for_citizen",
            CaseStatus::Decided => "decided",
            CaseStatus::Closed => "closed",
        }
    }

    pub fn from_code(code: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label_de(self) -> &'static str {
        match self {
            CaseStatus::Received => "Eingegangen",
            CaseStatus::InProgress => "In Bearbeitung",
            CaseStatus::WaitingForCitizen => "Rückfrage an Bürger/in",
            CaseStatus::Decided => "Entschieden",
            CaseStatus::Closed => "Abgeschlossen",
        }
    }

    /// Still needs work from the office.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CaseStatus::Received | CaseStatus::InProgress | CaseStatus::WaitingForCitizen
        )
    }
}

/// What someone does to a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaseAction {
    /// A clerk takes the case or is assigned it.
    Assign,
    /// The office asks the citizen something.
    Ask,
    /// The citizen answers a question.
    Answer,
    /// A decision takes effect.
    Decide,
    Close,
    /// An internal note; changes nothing.
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("„{}“ ist bei einem Vorgang im Status „{}“ nicht möglich.", .action, .from.label_de())]
pub struct TransitionError {
    pub from: CaseStatus,
    pub action: &'static str,
}

/// The status after `action`, or why the action is not possible now.
pub fn transition(from: CaseStatus, action: CaseAction) -> Result<CaseStatus, TransitionError> {
    use CaseAction as A;
    use CaseStatus as S;
    let err = |name: &'static str| Err(TransitionError { from, action: name });
    match (from, action) {
        (S::Received | S::InProgress | S::WaitingForCitizen, A::Note) => Ok(from),
        (S::Decided | S::Closed, A::Note) => Ok(from),
        (S::Received, A::Assign) => Ok(S::InProgress),
        (S::InProgress | S::WaitingForCitizen, A::Assign) => Ok(from),
        (S::Received | S::InProgress, A::Ask) => Ok(S::WaitingForCitizen),
        (S::WaitingForCitizen, A::Ask) => Ok(S::WaitingForCitizen),
        (S::WaitingForCitizen, A::Answer) => Ok(S::InProgress),
        (S::Received | S::InProgress | S::WaitingForCitizen, A::Decide) => Ok(S::Decided),
        (S::Decided, A::Close) => Ok(S::Closed),
        (_, A::Assign) => err("Übernehmen"),
        (_, A::Ask) => err("Rückfrage stellen"),
        (_, A::Answer) => err("Antworten"),
        (_, A::Decide) => err("Entscheiden"),
        (_, A::Close) => err("Abschließen"),
    }
}

/// The outcome of a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approved,
    Rejected,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Rejected => "rejected",
        }
    }
    pub fn from_code(c: &str) -> Option<Outcome> {
        match c {
            "approved" => Some(Outcome::Approved),
            "rejected" => Some(Outcome::Rejected),
            _ => None,
        }
    }
}

/// The part of a case's history a citizen sees on the status page: status changes, questions,
/// answers and decisions — never internal notes or who in the office did what.
pub fn visible_to_citizen(kind: &str) -> bool {
    matches!(kind, "status" | "question" | "answer" | "decision")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_case_moves_only_along_its_path() {
        use CaseAction as A;
        use CaseStatus as S;
        assert_eq!(transition(S::Received, A::Assign), Ok(S::InProgress));
        assert_eq!(transition(S::InProgress, A::Ask), Ok(S::WaitingForCitizen));
        assert_eq!(
            transition(S::WaitingForCitizen, A::Answer),
            Ok(S::InProgress)
        );
        assert_eq!(transition(S::InProgress, A::Decide), Ok(S::Decided));
        assert_eq!(transition(S::Decided, A::Close), Ok(S::Closed));
        assert!(transition(S::Decided, A::Decide).is_err(), "decided once");
        assert!(transition(S::Closed, A::Ask).is_err());
        assert!(
            transition(S::InProgress, A::Answer).is_err(),
            "no answer without a question"
        );
        assert_eq!(transition(S::Closed, A::Note), Ok(S::Closed));
        for s in CaseStatus::ALL {
            assert_eq!(CaseStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(
            transition(S::Closed, A::Decide).unwrap_err().to_string(),
            "„Entscheiden“ ist bei einem Vorgang im Status „Abgeschlossen“ nicht möglich."
        );
    }
}

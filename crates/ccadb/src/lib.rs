//! CCADB reports and the CA-owner map: which CA owner operates the issuer of a certificate seen
//! in CT, what CAA identifiers that owner recognises, where its CRLs are, and whether it may
//! issue TLS server certificates.
//!
//! The crate is pure: parsers read from any [`std::io::Read`] and the map serialises to bytes.
//! It knows nothing about files, the store or the daemon's configuration.
//!
//! - [`reports`] parses AllCertificateRecordsCSVFormatV5, Mozilla's IncludedCACertificateReport,
//!   AllCertificatePEMsCSVFormat, crt.sh's SKI → SPKI table and the CAA identifiers report, and
//!   recognises each by its header ([`read_report`]). Every parser returns the rows it
//!   understood together with a [`RowError`] (with line number) for each row it did not.
//! - [`MapBuilder`] joins the reports into an [`OwnerMap`] keyed by issuer SPKI SHA-256 (the
//!   RFC 6962 `issuer_key_hash`), with an [`ImportSummary`] of what was left out and why.
//!
//! Certificate records carry a fingerprint and a SKI but no SPKI hash, so a record becomes an
//! issuer of the map only when its certificate is in a PEM report or its SKI is in the SKI →
//! SPKI table. CA certificates present only as PEMs get the owner of the nearest ancestor (found
//! by authority key identifier) that has a record; such issuers are marked
//! [`OwnerSource::Chain`].
//!
//! ```
//! let csv = "CA Owner,Certificate Name,SHA-256 Fingerprint,Subject Key Identifier,TLS Capable\n\
//!            Example CA,Example Root,0000000000000000000000000000000000000000000000000000000000000001,AQID,True\n";
//! let ski = "Subject Key Identifier,SHA-256(Subject Public Key Info)\n\
//!            AQID,AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n";
//! let mut builder = ctwatch_ccadb::MapBuilder::default();
//! builder.add(ctwatch_ccadb::read_report(csv.as_bytes()).unwrap());
//! builder.add(ctwatch_ccadb::read_report(ski.as_bytes()).unwrap());
//! let (map, summary) = builder.build();
//! assert_eq!(summary.issuers, 1);
//! let issuer = map.issuer(&[2; 32]).unwrap();
//! assert_eq!(issuer.owners, vec!["Example CA".to_string()]);
//! assert!(issuer.tls_capable);
//! ```

#![forbid(unsafe_code)]

pub mod map;
pub mod reports;
mod table;

pub use map::{ImportSummary, IssuerInfo, MapBuilder, OwnerInfo, OwnerMap, OwnerSource};
pub use reports::{Report, read_report};
pub use table::{Parsed, RowError};

/// SHA-256 of a certificate's DER encoding.
pub type Fingerprint = [u8; 32];

/// Errors that stop a whole report or map from being read. Problems with single rows are
/// [`RowError`]s instead.
#[derive(Debug, thiserror::Error)]
pub enum CcadbError {
    /// The header row could not be read.
    #[error("cannot read the CSV header: {detail}")]
    Header { detail: String },
    /// The header lacks columns the report needs.
    #[error("{report}: missing column(s) {}", missing.join(", "))]
    MissingColumns { report: &'static str, missing: Vec<String> },
    /// The header matches no supported report.
    #[error(
        "not a supported CCADB report: expected the columns of AllCertificateRecordsCSVFormatV5, \
         IncludedCACertificateReport, AllCertificatePEMsCSVFormat, ski_spkisha256 or the CAA identifiers report"
    )]
    UnknownReport,
    /// Reading the input failed.
    #[error("read error: {detail}")]
    Io { detail: String },
    /// A serialised map could not be read.
    #[error("not a ctwatch CA-owner map: {detail}")]
    Map { detail: String },
}

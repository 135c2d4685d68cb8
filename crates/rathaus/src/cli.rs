//! Command-line interface. Exit codes: 0 success, 1 failure, 2 bad input or unknown object,
//! 3 audit chain broken.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use rathaus_app::audit_checkpoints::CheckpointWritten;
use rathaus_app::installation::{self, Schema};
use rathaus_app::tenants::TenantFilter;
use rathaus_app::{Actor, App, AppError, Config, SystemClock};
use rathaus_crypto::random::OsRandom;
use rathaus_store::audit::AuditVerdict;

#[derive(Parser)]
#[command(
    name = "rathaus",
    version,
    about = "Online services of many municipalities on one installation"
)]
struct Cli {
    /// Configuration file (TOML). RATHAUS_* environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve,
    /// Set up the demo installation (idempotent), print its address and accounts, then serve.
    Demo,
    /// Apply pending database migrations.
    Migrate,
    /// Municipalities and administrations.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Service definitions and the services municipalities offer.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The master key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Staff accounts of municipalities and of the operator.
    #[command(subcommand)]
    User(UserCommand),
    /// Dog tax (Hundesteuer): statutes, quotes, the annual assessment, the treasury's export.
    #[command(subcommand)]
    Dogtax(DogtaxCommand),
}

#[derive(Subcommand)]
enum DogtaxCommand {
    /// A municipality's Hundesteuersatzung versions.
    #[command(subcommand)]
    Statute(StatuteCommand),
    /// Print the quote JSON for a request (file or - for stdin); bad input prints the problem
    /// JSON and exits 2.
    Quote { ags: String, file: String },
    /// Issue every household's tax notice for a year (households already assessed are skipped).
    /// Several municipalities are assessed together, sharing the machine; Ctrl-C stops after the
    /// page at hand, and the same command continues where it stopped (exit code 3).
    Assess {
        #[arg(required = true, num_args = 1..)]
        ags: Vec<String>,
        #[arg(long)]
        year: i32,
        /// The date the notices bear (default today).
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<String>,
        /// Also render the year's notices as PDF files into this directory (a subdirectory per
        /// municipality when several are assessed); files there already are not rendered again.
        #[arg(long, value_name = "DIR")]
        pdf: Option<PathBuf>,
    },
    /// Write the direct debits (SEPA pain.008.001.02) and expected transfers (CSV) due on a day.
    /// What an earlier export for the same day handed over already is left out and named.
    Export {
        ags: String,
        #[arg(long, value_name = "YYYY-MM-DD")]
        due: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Export again what earlier exports for the day handed over already (e.g. the bank
        /// rejected the file); audit-logged.
        #[arg(long)]
        again: bool,
    },
    /// Take over an existing register: one household per line of JSON (see the README).
    Import { ags: String, file: PathBuf },
}

#[derive(Subcommand)]
enum StatuteCommand {
    /// Store a statute version from its JSON file (same valid_from: a new revision).
    Set { ags: String, file: PathBuf },
    /// Print the statute versions in force, oldest first, in the file format.
    Show { ags: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account and print its one-time enrolment link.
    Add {
        /// AGS or administration key (omit for the operator's accounts, role operator_admin).
        #[arg(long, value_name = "AGS")]
        tenant: Option<String>,
        /// operator_admin, tenant_admin, clerk or auditor.
        #[arg(long)]
        role: String,
        #[arg(long)]
        email: String,
        /// Display name (defaults to the part of the address before the @).
        #[arg(long)]
        name: Option<String>,
        /// Services a clerk works on (comma-separated ids; default all).
        #[arg(long, value_delimiter = ',')]
        services: Vec<String>,
    },
    /// List accounts, of one tenant or all.
    List {
        #[arg(long, value_name = "AGS")]
        tenant: Option<String>,
    },
    /// Disable an account; all its sessions end at once.
    Disable { id: String },
    /// Enable a disabled account again.
    Enable { id: String },
    /// Print a one-time link for a new password (the second factor stays required); with
    /// --second-factor also a new authenticator app (for a lost phone).
    Reset {
        id: String,
        #[arg(long)]
        second_factor: bool,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Import the Destatis GV-ISys extract (CSV) of all municipalities; idempotent.
    ImportGv { file: PathBuf },
    /// List tenants.
    List {
        /// Only enabled tenants.
        #[arg(long)]
        enabled: bool,
        /// Only this federal state (two-digit key, e.g. 12 for Brandenburg).
        #[arg(long, value_name = "KEY")]
        land: Option<String>,
    },
    /// Show one tenant by AGS, administration key or slug.
    Show { ags: String },
    /// Offer the platform's services for this tenant.
    Enable { ags: String },
    /// Stop offering services for this tenant (its data stays).
    Disable { ags: String },
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// List the known services (newest versions).
    List,
    /// Import a service definition file (JSON); a changed definition needs a new version.
    Import { file: PathBuf },
    /// Offer a service in a municipality.
    Offer { ags: String, service: String },
    /// Stop offering a service in a municipality.
    Withdraw { ags: String, service: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the hash chain; exit 0 when intact, 3 naming the first broken entry otherwise.
    /// With --checkpoints, also check that the log still holds every signed checkpoint's head:
    /// exit 3 naming each checkpoint the log was cut short or rewritten behind.
    Verify {
        /// Directory of checkpoints written by `rathaus audit checkpoint` or the server.
        #[arg(long, value_name = "DIR")]
        checkpoints: Option<PathBuf>,
    },
    /// Verify the hash chain and write a checkpoint of its head, signed with the audit signing
    /// key (ECDSA P-256, generated beside the master key on first use), into DIR. Keep DIR apart
    /// from the data: another machine, write-once storage.
    Checkpoint {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Breach scoping (GDPR Art. 33): which records of a municipality were read, changed or
    /// exported in a window of days (local time), by which accounts and how. Audit-logged.
    Scope {
        /// Official key (AGS) or name of the municipality.
        municipality: String,
        /// First day of the window, e.g. 2026-12-01.
        #[arg(long)]
        from: String,
        /// Last day of the window (inclusive).
        #[arg(long)]
        to: String,
        /// Print the scope as JSON, for the report to the supervisory authority.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a new master key and re-wrap all tenant keys with it (data is not re-encrypted).
    RotateMaster,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = match Config::load(cli.config.as_deref(), &env) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    crate::logging::init(&config.log_format, &config.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli.command, config)) {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn fail(e: &AppError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(e.exit_code() as u8)
}

async fn open(config: Config, schema: Schema) -> Result<App, AppError> {
    installation::open(config, Arc::new(SystemClock), Arc::new(OsRandom), schema).await
}

async fn run(command: Command, config: Config) -> Result<ExitCode, AppError> {
    match command {
        Command::Serve => {
            let schema = if config.auto_migrate {
                Schema::Migrate
            } else {
                Schema::RequireCurrent
            };
            let app = open(config, schema).await?;
            serve(app, None).await
        }
        Command::Demo => {
            let mut config = config;
            if config.ops_listen.is_none() {
                // The demo shows operators their metrics on localhost, beside the citizens' port.
                let port = match config.listen.port() {
                    0 => 0,
                    p => p.checked_add(1).unwrap_or(0),
                };
                config.ops_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
            }
            let app = open(config, Schema::Migrate).await?;
            let report = app.seed_demo().await?;
            let banner = demo_banner(&app, &report).await?;
            serve(app, Some(banner)).await
        }
        Command::Migrate => {
            let app = open(config, Schema::Migrate).await?;
            let status = app.store.migration_status().await?;
            println!(
                "database schema is current ({} migrations applied)",
                status.applied.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(cmd) => tenant(cmd, open(config, Schema::Migrate).await?).await,
        Command::Service(cmd) => service(cmd, open(config, Schema::Migrate).await?).await,
        Command::Audit(cmd) => audit(cmd, open(config, Schema::RequireCurrent).await?).await,
        Command::User(cmd) => user(cmd, open(config, Schema::Migrate).await?).await,
        Command::Dogtax(cmd) => dogtax(cmd, open(config, Schema::Migrate).await?).await,
        Command::Keys(KeysCommand::RotateMaster) => {
            let app = open(config, Schema::RequireCurrent).await?;
            let r = app.rotate_master_key(&Actor::Cli).await?;
            println!(
                "master key rotated: {} tenant keys and {} index keys re-wrapped; the previous key is kept as {}; \
                 restart running servers with the new key",
                r.data_keys,
                r.index_keys,
                app.config
                    .master_key_file
                    .with_extension("key.old")
                    .display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn tenant(cmd: TenantCommand, app: App) -> Result<ExitCode, AppError> {
    match cmd {
        TenantCommand::ImportGv { file } => {
            let started = std::time::Instant::now();
            let r = app.import_gv_file(&Actor::Cli, &file).await?;
            println!(
                "imported {} municipalities and {} administrations from {}: {} new, {} updated, {} unchanged ({:.1} s); new tenants are disabled until enabled",
                r.municipalities,
                r.administrations,
                file.display(),
                r.counts.inserted,
                r.counts.updated,
                r.counts.unchanged,
                started.elapsed().as_secs_f64()
            );
        }
        TenantCommand::List { enabled, land } => {
            if let Some(l) = &land
                && !(l.len() == 2 && l.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(AppError::BadInput(format!(
                    "--land takes a two-digit key such as 12, got {l:?}"
                )));
            }
            let list = app
                .list_tenants(&TenantFilter {
                    enabled_only: enabled,
                    land,
                    parent: None,
                })
                .await?;
            for t in &list {
                println!(
                    "{:<9}  {:<8}  {:<26}  {}",
                    t.key,
                    if t.enabled { "enabled" } else { "disabled" },
                    t.slug,
                    t.title()
                );
            }
            eprintln!("{} tenants", list.len());
        }
        TenantCommand::Show { ags } => {
            let t = rathaus_app::tenants::resolve(&app, &ags).await?;
            let (parent, members) = app.tenant_family(&t).await?;
            println!("key:        {}", t.key);
            if let Some(ars) = &t.ars {
                println!("ARS:        {ars}");
            }
            println!("name:       {}", t.title());
            println!("official:   {}", t.official_name);
            println!("kind:       {}", t.kind);
            println!("slug:       {}", t.slug);
            println!("district:   {}", t.district);
            if let Some(p) = t.population {
                println!("population: {p}");
            }
            println!("enabled:    {}", if t.enabled { "yes" } else { "no" });
            if let Some(p) = parent {
                println!("served by:  {} ({})", p.title(), p.key);
            }
            for m in members {
                println!(
                    "member:     {} ({}){}",
                    m.title(),
                    m.key,
                    if m.enabled { "" } else { ", disabled" }
                );
            }
        }
        TenantCommand::Enable { ags } => {
            let (t, changed) = app.set_tenant_enabled(&Actor::Cli, &ags, true).await?;
            println!(
                "{} ({}) {}",
                t.title(),
                t.key,
                if changed {
                    "enabled"
                } else {
                    "was already enabled"
                }
            );
        }
        TenantCommand::Disable { ags } => {
            let (t, changed) = app.set_tenant_enabled(&Actor::Cli, &ags, false).await?;
            println!(
                "{} ({}) {}",
                t.title(),
                t.key,
                if changed {
                    "disabled"
                } else {
                    "was already disabled"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn service(cmd: ServiceCommand, app: App) -> Result<ExitCode, AppError> {
    match cmd {
        ServiceCommand::List => {
            for d in app.latest_services().await? {
                println!(
                    "{:<20} v{:<3} {:<5} {}",
                    d.id, d.version, d.reference_prefix, d.title.de
                );
            }
        }
        ServiceCommand::Import { file } => {
            let json = std::fs::read_to_string(&file)
                .map_err(|e| AppError::BadInput(format!("cannot read {}: {e}", file.display())))?;
            let (def, new) = app.import_service(&Actor::Cli, &json).await?;
            let what = if new { "imported" } else { "already known:" };
            println!(
                "{what} {} version {} ({})",
                def.id, def.version, def.title.de
            );
        }
        ServiceCommand::Offer { ags, service } => {
            let t = rathaus_app::tenants::resolve(&app, &ags).await?;
            let changed = app
                .set_service_offered(&Actor::Cli, &t, &service, true)
                .await?;
            println!(
                "{} {} {service}",
                t.title(),
                if changed {
                    "now offers"
                } else {
                    "already offers"
                }
            );
        }
        ServiceCommand::Withdraw { ags, service } => {
            let t = rathaus_app::tenants::resolve(&app, &ags).await?;
            let changed = app
                .set_service_offered(&Actor::Cli, &t, &service, false)
                .await?;
            println!(
                "{} {} {service}",
                t.title(),
                if changed {
                    "no longer offers"
                } else {
                    "does not offer"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn user(cmd: UserCommand, app: App) -> Result<ExitCode, AppError> {
    use rathaus_domain::staff::Role;
    match cmd {
        UserCommand::Add {
            tenant,
            role,
            email,
            name,
            services,
        } => {
            let role = Role::from_code(&role).ok_or_else(|| {
                AppError::BadInput(format!(
                    "unknown role {role:?}; use one of operator_admin, tenant_admin, clerk, auditor"
                ))
            })?;
            let email = rathaus_app::staff::normalise_email(&email)?;
            let tenant = match &tenant {
                Some(t) => Some(rathaus_app::tenants::resolve(&app, t).await?),
                None => None,
            };
            let name =
                name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
            let (who, delivery) = app
                .add_staff(&Actor::Cli, tenant.as_ref(), role, &email, &name, &services)
                .await?;
            let link = operator_link(delivery)?;
            eprintln!(
                "created account {} ({}{}); send this one-time link to the person (valid 7 days):",
                who.user_id,
                role.code(),
                tenant
                    .map(|t| format!(", {}", t.title()))
                    .unwrap_or_default()
            );
            println!("{link}");
        }
        UserCommand::List { tenant } => {
            let key = match &tenant {
                Some(t) => Some(
                    rathaus_app::tenants::resolve(&app, t)
                        .await?
                        .key
                        .to_string(),
                ),
                None => None,
            };
            let list = app.list_staff(key.as_deref()).await?;
            for u in &list {
                println!(
                    "{:<26}  {:<9}  {:<14}  {:<8}  {:<11}  {}",
                    u.id,
                    u.tenant_key.as_deref().unwrap_or("-"),
                    u.role.code(),
                    if u.disabled { "disabled" } else { "enabled" },
                    if u.enrolled {
                        "enrolled"
                    } else {
                        "not enrolled"
                    },
                    u.email
                );
            }
            eprintln!("{} accounts", list.len());
        }
        UserCommand::Disable { id } => {
            let changed = app.set_staff_disabled(&Actor::Cli, &id, true).await?;
            println!(
                "account {id} {}; its sessions have ended",
                if changed {
                    "disabled"
                } else {
                    "was already disabled"
                }
            );
        }
        UserCommand::Enable { id } => {
            let changed = app.set_staff_disabled(&Actor::Cli, &id, false).await?;
            println!(
                "account {id} {}",
                if changed {
                    "enabled"
                } else {
                    "was already enabled"
                }
            );
        }
        UserCommand::Reset { id, second_factor } => {
            let link = operator_link(if second_factor {
                app.reset_staff_second_factor(&Actor::Cli, &id).await?
            } else {
                app.reset_staff(&Actor::Cli, &id).await?
            })?;
            eprintln!("one-time link for account {id} (valid 7 days):");
            println!("{link}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The console is the operator's channel for one-time links: it prints them.
fn operator_link(delivery: rathaus_app::staff::LinkDelivery) -> Result<String, AppError> {
    delivery
        .operator_link()
        .ok_or_else(|| AppError::Internal("the link was mailed instead of printed".into()))
}

async fn demo_banner(
    app: &App,
    report: &rathaus_app::demo::DemoReport,
) -> Result<String, AppError> {
    let enabled = app
        .list_tenants(&TenantFilter {
            enabled_only: true,
            ..TenantFilter::default()
        })
        .await?;
    let mut out = String::new();
    out.push_str("\nrathaus demo is ready\n\n");
    out.push_str(&format!(
        "  Open {}/ in your browser.\n\n",
        app.config.public_url
    ));
    out.push_str("  Municipalities:\n");
    for t in &enabled {
        out.push_str(&format!(
            "    {:<28} {}/{}\n",
            t.title(),
            app.config.public_url,
            t.slug
        ));
    }
    if !report.staff.is_empty() {
        out.push_str("\n  Staff sign-in: ");
        out.push_str(&format!("{}/verwaltung/anmelden\n", app.config.public_url));
        out.push_str("  (add the TOTP secret to an authenticator app, or open the otpauth URI)\n");
        for s in &report.staff {
            if !s.current {
                out.push_str(&format!(
                    "\n    {:<34} {}\n      no longer the demo's credentials (e.g. after `rathaus keys rotate-master`);\n      `rathaus user reset {} --second-factor` prints a link to set new ones\n",
                    s.email,
                    s.role.label_de(),
                    s.account_id.as_deref().unwrap_or("<id>")
                ));
                continue;
            }
            out.push_str(&format!(
                "\n    {:<34} {}\n      password {}\n      TOTP     {}\n      {}\n",
                s.email,
                s.role.label_de(),
                s.password,
                s.totp_secret,
                s.otpauth_uri
            ));
        }
    }
    if app.config.smtp_url.is_none() {
        out.push_str(
            "\n  E-mails (confirmations, resume links) wait in the outbox until an SMTP server is set,\n  \
             e.g. RATHAUS_SMTP_URL=smtp://127.0.0.1:2525 with `python3 -m aiosmtpd -n -l 127.0.0.1:2525`.\n",
        );
    }
    if report.imported > 0 {
        out.push_str(&format!(
            "\n  Imported {} Brandenburg tenants from the official register (disabled).\n",
            report.imported
        ));
    }
    Ok(out)
}

async fn serve(app: App, banner: Option<String>) -> Result<ExitCode, AppError> {
    let listen = app.config.listen;
    let grace = Duration::from_secs(app.config.shutdown_grace_seconds);
    let assets = rathaus_web::Assets::locate(app.config.assets_dir.as_deref());
    let listener = bind(listen).await?;
    let ops_listener = match app.config.ops_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    if let Some(b) = banner {
        println!("{b}");
    }
    if let Some(l) = &ops_listener {
        let local = l
            .local_addr()
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        println!("operator endpoints (/metrics) on http://{local}");
        tracing::info!(address = %local, "operators' listener");
    }
    let local = listener
        .local_addr()
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let signal = shutdown_signal();
    // Tests and scripts read this line to learn the port when listening on port 0.
    println!("listening on http://{local}");
    tracing::info!(address = %local, "listening");
    if let Some(url) = &app.config.clamd_url {
        match rathaus_app::clamd::Clamd::new(url.clone()).ping().await {
            Ok(()) => tracing::info!(clamd = %url, "uploads are scanned for malware"),
            Err(e) => tracing::warn!(
                error = %e,
                "the virus scanner does not answer; uploads are refused until it does"
            ),
        }
    }
    let state = rathaus_web::AppState::new(app.clone(), assets);
    let router = rathaus_web::router(state.clone());
    rathaus_app::mail::describe_metrics();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mail = rathaus_app::mail::spawn_worker(&app, stop_rx.clone())?;
    let checkpoints = app
        .config
        .audit_checkpoint_dir
        .clone()
        .map(|dir| tokio::spawn(audit_checkpoints(app.clone(), dir, stop_rx.clone())));
    let housekeeping = tokio::spawn(housekeeping(app.clone(), stop_rx));
    // One signal stops both listeners.
    let (signal_tx, signal_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = signal_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let ops = ops_listener.map(|l| {
        tokio::spawn(rathaus_web::serve(
            l,
            rathaus_web::ops_router(state),
            stopped(signal_rx.clone()),
            grace,
        ))
    });
    rathaus_web::serve(listener, router, stopped(signal_rx), grace)
        .await
        .map_err(|e| AppError::Unavailable(format!("server failed: {e}")))?;
    if let Some(ops) = ops {
        let _ = tokio::time::timeout(grace, ops).await;
    }
    let _ = stop_tx.send(true);
    if let Some(h) = mail.handle {
        let _ = tokio::time::timeout(grace, h).await;
    }
    let _ = tokio::time::timeout(grace, housekeeping).await;
    if let Some(c) = checkpoints {
        let _ = tokio::time::timeout(grace, c).await;
    }
    app.store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn audit(cmd: AuditCommand, app: App) -> Result<ExitCode, AppError> {
    match cmd {
        AuditCommand::Verify { checkpoints } => {
            let entries = match app.verify_audit().await? {
                AuditVerdict::Intact { entries } => entries,
                AuditVerdict::Broken(b) => {
                    println!("audit log BROKEN at entry {}: {}", b.seq, b.reason);
                    return Ok(ExitCode::from(3));
                }
            };
            let Some(dir) = checkpoints else {
                println!("audit log intact: {entries} entries verified");
                return Ok(ExitCode::SUCCESS);
            };
            let report = app.check_audit_checkpoints(&dir).await?;
            if !report.problems.is_empty() {
                for problem in &report.problems {
                    println!("audit log BROKEN against checkpoint {problem}");
                }
                return Ok(ExitCode::from(3));
            }
            let newest = report.newest.map_or_else(String::new, |(seq, at_ms)| {
                format!(
                    " (the newest of entry {seq}, {})",
                    rathaus_domain::localtime::format_berlin(
                        rathaus_domain::localtime::from_unix_ms(at_ms)
                    )
                )
            });
            println!(
                "audit log intact: {entries} entries verified, {} checkpoints held{newest}",
                report.matched
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Scope {
            municipality,
            from,
            to,
            json,
        } => {
            let from = parse_day(&from, "--from")?;
            let to = parse_day(&to, "--to")?;
            let scope = app
                .breach_scope(&Actor::Cli, &municipality, from, to)
                .await?;
            if json {
                print_json(&scope)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{} ({}), {} to {} (local time): {} records, {} accounts",
                scope.municipality,
                scope.key,
                scope.from,
                scope.to,
                scope.records.len(),
                scope.accounts.len()
            );
            for r in &scope.records {
                println!(
                    "{}: read {}, changed {}, exported {}",
                    r.record, r.read, r.changed, r.exported
                );
                for e in &r.entries {
                    println!("  {}  {}  {}", e.at, e.account, e.action);
                }
            }
            if !scope.accounts.is_empty() {
                let accounts: Vec<&str> = scope.accounts.iter().map(String::as_str).collect();
                println!("accounts: {}", accounts.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Checkpoint { out } => match app.write_audit_checkpoint(&out).await? {
            CheckpointWritten::Written {
                seq,
                path,
                key_created,
            } => {
                if let Some(key) = key_created {
                    println!(
                        "audit signing key generated: {} (keep a copy apart from the data)",
                        key.display()
                    );
                }
                println!("checkpoint of entry {seq} written: {}", path.display());
                Ok(ExitCode::SUCCESS)
            }
            CheckpointWritten::ChainBroken(b) => {
                println!(
                    "audit log BROKEN at entry {}: {}; no checkpoint written",
                    b.seq, b.reason
                );
                Ok(ExitCode::from(3))
            }
        },
    }
}

/// Writes a signed checkpoint of the audit log's head every `audit_checkpoint_minutes` into
/// `audit_checkpoint_dir`, when the log has grown since the last one.
async fn audit_checkpoints(app: App, dir: PathBuf, mut stop: tokio::sync::watch::Receiver<bool>) {
    let every = Duration::from_secs(u64::from(app.config.audit_checkpoint_minutes.max(1)) * 60);
    let mut last: Option<i64> = None;
    loop {
        match app.store.audit_head().await {
            Ok((seq, _)) if last == Some(seq) => {}
            Ok(_) => match app.write_audit_checkpoint(&dir).await {
                Ok(CheckpointWritten::Written { seq, path, .. }) => {
                    last = Some(seq);
                    tracing::info!(entry = seq, file = %path.display(), "audit checkpoint written");
                }
                Ok(CheckpointWritten::ChainBroken(b)) => tracing::error!(
                    entry = b.seq,
                    reason = %b.reason,
                    "the audit log is broken; no checkpoint written"
                ),
                Err(e) => tracing::warn!(error = %e, "could not write an audit checkpoint"),
            },
            Err(e) => tracing::warn!(error = %e, "could not read the audit log's head"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, AppError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::Unavailable(format!("cannot listen on {addr}: {e}")))
}

/// Periodic work of a running server: deleting expired drafts and idempotency keys, and uploads
/// a crash left behind half-received (a request runs minutes at most; an hour leaves every live one alone).
async fn housekeeping(app: App, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match app.expire_drafts().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(drafts = n, "deleted expired drafts"),
            Err(e) => tracing::warn!(error = %e, "could not delete expired drafts"),
        }
        match app.expire_submission_keys().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(keys = n, "deleted expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "could not delete expired idempotency keys"),
        }
        match app.sweep_staged_uploads(Duration::from_secs(3600)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "deleted abandoned upload files"),
            Err(e) => tracing::warn!(error = %e, "could not delete abandoned upload files"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a signal right after start-up then stops the process
/// gracefully instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let received = |s: std::io::Result<tokio::signal::unix::Signal>| async move {
                match s {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = received(interrupt) => {},
                _ = received(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing the work at hand");
    }
}

/// A day given as YYYY-MM-DD for `option`.
fn parse_day(text: &str, option: &str) -> Result<rathaus_app::dogtax::Date, AppError> {
    rathaus_domain::service::form::parse_date(text)
        .filter(|_| text.len() == 10 && text.as_bytes().get(4) == Some(&b'-'))
        .ok_or_else(|| AppError::BadInput(format!("{option} takes a date like 2027-02-15")))
}

fn print_json(value: &impl serde::Serialize) -> Result<(), AppError> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| AppError::Internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

async fn dogtax(cmd: DogtaxCommand, app: App) -> Result<ExitCode, AppError> {
    use rathaus_app::dogtax;
    match cmd {
        DogtaxCommand::Statute(StatuteCommand::Set { ags, file }) => {
            let json = std::fs::read_to_string(&file)
                .map_err(|e| AppError::BadInput(format!("cannot read {}: {e}", file.display())))?;
            let set = app.set_dogtax_statute(&Actor::Cli, &ags, &json).await?;
            println!(
                "{} ({}): statute valid from {} stored (revision {})",
                set.tenant.title(),
                set.tenant.key,
                set.valid_from,
                set.revision
            );
        }
        DogtaxCommand::Statute(StatuteCommand::Show { ags }) => {
            let tenant = app.dogtax_municipality(&ags).await?;
            let history = app.dogtax_statutes(&tenant).await?;
            if history.is_empty() {
                eprintln!("{} has no dog-tax statute yet", tenant.title());
            }
            let versions: Vec<serde_json::Value> =
                history.versions().iter().map(|s| s.to_value()).collect();
            print_json(&serde_json::Value::Array(versions))?;
        }
        DogtaxCommand::Quote { ags, file } => {
            let text = if file == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| AppError::BadInput(format!("cannot read stdin: {e}")))?;
                text
            } else {
                std::fs::read_to_string(&file)
                    .map_err(|e| AppError::BadInput(format!("cannot read {file}: {e}")))?
            };
            let Ok(request) = serde_json::from_str::<serde_json::Value>(&text) else {
                print_json(&dogtax::not_json_problem())?;
                eprintln!("error: the request is not valid JSON");
                return Ok(ExitCode::from(2));
            };
            match app.dogtax_quote(&ags, &request).await {
                // The struct itself, not a JSON value: its fields keep the documented order.
                Ok(quote) => print_json(&quote)?,
                Err(dogtax::QuoteError::Failed(e)) => return Err(e),
                Err(e) => {
                    if let Some(problem) = dogtax::quote_problem(&e) {
                        print_json(&problem)?;
                        eprintln!(
                            "error: {}",
                            problem["detail"]
                                .as_str()
                                .unwrap_or("the request is invalid")
                        );
                    }
                    return Ok(ExitCode::from(2));
                }
            }
        }
        DogtaxCommand::Assess {
            ags,
            year,
            date,
            pdf,
        } => {
            let date = date.map(|d| parse_day(&d, "--date")).transpose()?;
            return assess_together(&app, ags, year, date, pdf).await;
        }
        DogtaxCommand::Export {
            ags,
            due,
            out,
            again,
        } => {
            let due = parse_day(&due, "--due")?;
            let r = app
                .dogtax_export(&Actor::Cli, &ags, due, &out, again)
                .await?;
            print_export(&r);
        }
        DogtaxCommand::Import { ags, file } => {
            let started = std::time::Instant::now();
            let r = app
                .dogtax_import(
                    &Actor::Cli,
                    &ags,
                    dogtax::RegisterSource::File(&file),
                    &ProgressBar::new(),
                )
                .await?;
            println!(
                "imported {} households with {} dogs ({:.1} s)",
                r.households,
                r.dogs,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The export's result for the operator: files on stdout; on stderr what needs their attention
/// (a re-export, direct debits refused). Households are named by their Kassenzeichen only.
fn print_export(r: &rathaus_app::dogtax::ExportReport) {
    let due = r.due;
    let when = |e: &rathaus_app::dogtax::EarlierExport| {
        let at = rathaus_domain::localtime::to_berlin(e.at);
        format!("{} {:02}:{:02}", at.date(), at.hour(), at.minute())
    };
    let exported_again = if r.again { " (exported again)" } else { "" };
    for e in &r.earlier {
        if e.debits > 0 {
            println!(
                "{} direct debits were already exported on {} in file {}{exported_again}",
                e.debits,
                when(e),
                e.debit_file.as_deref().unwrap_or("-")
            );
        }
        if e.transfers > 0 {
            println!(
                "{} transfers were already listed on {} in file {}{exported_again}",
                e.transfers,
                when(e),
                e.transfer_file.as_deref().unwrap_or("-")
            );
        }
    }
    let new = if r.already_debits + r.already_transfers > 0 && !r.again {
        "new "
    } else {
        ""
    };
    match &r.xml {
        Some(xml) => println!(
            "exported {} {new}direct debits, {} EUR: {}",
            r.debits,
            r.debit_sum,
            xml.display()
        ),
        None => println!("exported 0 {new}direct debits due on {due}"),
    }
    match &r.csv {
        Some(csv) => println!(
            "{} {new}transfers expected, {} EUR: {}",
            r.transfers,
            r.transfer_sum,
            csv.display()
        ),
        None => println!("no {new}transfers expected on {due}"),
    }
    if r.again && r.already_debits > 0 {
        eprintln!(
            "warning: re-export: {} direct debits exported before for {due} are in this file once more; send the bank only one of the files",
            r.already_debits
        );
    }
    if r.refused_count > 0 {
        for d in &r.refused {
            let claim = match d.claim.as_str() {
                "G" => "fees".to_owned(),
                year => format!("tax {year}"),
            };
            eprintln!(
                "warning: not exported: direct debit of Kassenzeichen {} ({claim}): {}",
                d.kassenzeichen, d.reason
            );
        }
        eprintln!(
            "warning: {} direct debits were refused and not exported (list: {}); once the mandates are complete, the next export for {due} collects them",
            r.refused_count,
            r.refused_file
                .as_ref()
                .map_or_else(|| "-".to_owned(), |p| p.display().to_string())
        );
    }
}

/// The annual runs of several municipalities at once (the operator's night): each in its own
/// task, their notices rendered by the same workers in turn, each with its own progress line.
/// Ctrl-C (or SIGTERM) asks every run to stop after the page at hand.
async fn assess_together(
    app: &App,
    municipalities: Vec<String>,
    year: i32,
    date: Option<rathaus_app::dogtax::Date>,
    pdf: Option<PathBuf>,
) -> Result<ExitCode, AppError> {
    let board = Arc::new(ProgressBoard::new(municipalities.len()));
    let stop = board.clone();
    let signal = shutdown_signal();
    tokio::spawn(async move {
        signal.await;
        stop.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let several = municipalities.len() > 1;
    let mut runs = Vec::new();
    for (line, ags) in municipalities.into_iter().enumerate() {
        let (app, board) = (app.clone(), board.clone());
        let dir = pdf
            .as_ref()
            .map(|d| if several { d.join(&ags) } else { d.clone() });
        runs.push(tokio::spawn(async move {
            let bar = RunProgress {
                board,
                line,
                label: ags.clone(),
            };
            let started = std::time::Instant::now();
            let r = app
                .dogtax_assess(&Actor::Cli, &ags, year, date, dir.as_deref(), &bar)
                .await;
            (ags, r, started.elapsed())
        }));
    }
    let mut code = ExitCode::SUCCESS;
    let mut failed = None;
    for run in runs {
        let (ags, r, took) = run
            .await
            .map_err(|e| AppError::Internal(format!("annual run: {e}")))?;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {ags}: {e}");
                failed = Some(e);
                continue;
            }
        };
        let prefix = if several {
            format!("{ags}: ")
        } else {
            String::new()
        };
        println!(
            "{prefix}{year}: {} notices issued on {} ({} households, {} already assessed, {} without dogs); tax {} EUR; {:.1} s",
            r.issued,
            r.issued_on,
            r.households,
            r.already_assessed,
            r.without_dogs,
            r.total,
            took.as_secs_f64()
        );
        if let Some(p) = &r.printed {
            println!(
                "{prefix}{} PDFs in {} ({} printed now, {} there already)",
                p.written + p.present,
                p.dir.display(),
                p.written,
                p.present
            );
        }
        if r.interrupted {
            eprintln!(
                "{prefix}interrupted: run the same command again to continue where it stopped"
            );
            code = ExitCode::from(3);
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(code),
    }
}

/// The progress lines of the runs in one command, on stderr: redrawn in place on a terminal,
/// a line per run every 10 % otherwise. Each shows the phase, a bar, the count, the rate and
/// the time left.
struct ProgressBoard {
    lines: std::sync::Mutex<Vec<ProgressLine>>,
    tty: bool,
    /// Set by Ctrl-C: every run stops after the work at hand.
    stop: std::sync::atomic::AtomicBool,
    drawn: std::sync::atomic::AtomicBool,
}

#[derive(Clone, Default)]
struct ProgressLine {
    label: String,
    phase: String,
    total: usize,
    done: usize,
    started: Option<std::time::Instant>,
    /// The last step drawn (a percentage, in tens when not on a terminal).
    shown: Option<usize>,
}

impl ProgressLine {
    fn text(&self) -> String {
        let total = self.total.max(1);
        let percent = self.done.min(total) * 100 / total;
        let filled = percent * 30 / 100;
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(30 - filled));
        let secs = self
            .started
            .map_or(0.0, |s| s.elapsed().as_secs_f64())
            .max(0.001);
        let rate = self.done as f64 / secs;
        let left = if rate > 0.0 {
            let s = (self.total.saturating_sub(self.done) as f64 / rate).round() as u64;
            format!("{}:{:02} left", s / 60, s % 60)
        } else {
            "--:-- left".to_owned()
        };
        format!(
            "{:<9} {:<9} [{bar}] {}/{} {percent:>3}% {rate:>7.0}/s {left}",
            self.label, self.phase, self.done, self.total
        )
    }
}

impl ProgressBoard {
    fn new(runs: usize) -> ProgressBoard {
        ProgressBoard {
            lines: std::sync::Mutex::new(vec![ProgressLine::default(); runs]),
            tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            stop: std::sync::atomic::AtomicBool::new(false),
            drawn: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn update(&self, line: usize, change: impl FnOnce(&mut ProgressLine)) {
        let Ok(mut lines) = self.lines.lock() else {
            return;
        };
        let count = lines.len();
        let Some(l) = lines.get_mut(line) else { return };
        change(l);
        let total = l.total.max(1);
        let percent = l.done.min(total) * 100 / total;
        let step = if self.tty { percent } else { percent / 10 * 10 };
        if l.shown == Some(step) {
            return;
        }
        l.shown = Some(step);
        if self.tty {
            // Every line redrawn in place: up to the first, then each one cleared and written.
            let mut out = String::new();
            if !self.drawn.swap(true, std::sync::atomic::Ordering::Relaxed) {
                // Room for every run's line below the cursor.
                out.push_str(&"\n".repeat(count - 1));
            }
            if count > 1 {
                out.push_str(&format!("\x1b[{}F", count - 1));
            } else {
                out.push('\r');
            }
            let texts: Vec<String> = lines.iter().map(ProgressLine::text).collect();
            out.push_str(&texts.join("\x1b[K\n"));
            out.push_str("\x1b[K");
            eprint!("{out}");
        } else {
            eprintln!("{}", l.text());
        }
    }
}

/// One run's line on the board.
struct RunProgress {
    board: Arc<ProgressBoard>,
    line: usize,
    label: String,
}

impl rathaus_app::dogtax::Progress for RunProgress {
    fn begin(&self, phase: &str, total: usize) {
        let label = self.label.clone();
        self.board.update(self.line, |l| {
            *l = ProgressLine {
                label,
                phase: phase.to_owned(),
                total,
                done: 0,
                started: Some(std::time::Instant::now()),
                shown: None,
            };
        });
    }

    fn advance(&self, done: usize) {
        self.board.update(self.line, |l| l.done = done);
    }

    fn finish(&self) {}

    fn stopped(&self) -> bool {
        self.board.stop.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A progress bar on stderr for one step: the board with a single line.
struct ProgressBar(RunProgress);

impl ProgressBar {
    fn new() -> ProgressBar {
        ProgressBar(RunProgress {
            board: Arc::new(ProgressBoard::new(1)),
            line: 0,
            label: String::new(),
        })
    }
}

impl rathaus_app::dogtax::Progress for ProgressBar {
    fn begin(&self, phase: &str, total: usize) {
        self.0.begin(phase, total);
    }

    fn advance(&self, done: usize) {
        self.0.advance(done);
    }

    fn finish(&self) {
        if self.0.board.tty {
            eprintln!();
        }
    }
}

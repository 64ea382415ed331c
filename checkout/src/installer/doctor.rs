//! `kasa doctor`: the installer's scan and device tests from a shell (an
//! installer working over SSH), with a verdict per device (OK, PROBLEM, or
//! nothing there) and what to do next, in Ukrainian or English.
//!
//! Each line ends with the codes it rests on in brackets
//! (`[fiscal dialect=x framing=x]`, `[terminal protocol=privatbank
//! card_data=missing]`), so a support script can read it too. The exit code
//! is 1 when any device has a problem.
//!
//! It spots a PrivatBank terminal whose bank profile has "ECR prints the
//! slip" off: such a terminal answers a purchase with its response code
//! alone, so the fiscal receipt would have no RRN, authorisation code or
//! card number, which only the bank can change in the terminal's profile.

use std::path::Path;

use super::device_test::{self, DeviceTestKind, DeviceTestResult};
use super::scan::{self, Found, PortReport, ScanPortsQuery};
use crate::settings::Settings;

/// The installer's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Uk,
    En,
}

impl Lang {
    /// `en` is English; anything else Ukrainian.
    pub fn parse(s: &str) -> Lang {
        if s.trim().eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Uk
        }
    }

    fn pick<'a>(self, uk: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Uk => uk,
            Lang::En => en,
        }
    }
}

/// How a device fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Problem,
    /// Nothing answered on a port nobody said a device is on.
    Nothing,
}

/// One device's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The port, address or configured device it is about.
    pub device: String,
    pub outcome: Outcome,
    /// What was found, in the installer's language.
    pub summary: String,
    /// What to do next (empty when nothing).
    pub next: String,
    /// The codes the verdict rests on.
    pub codes: String,
}

/// What to examine.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    pub ports: Vec<String>,
    pub tcp: Vec<String>,
    pub lang: Lang,
}

fn card_data_missing(lang: Lang) -> (String, String) {
    (
        lang.pick(
            "термінал ПриватБанку не передає касі дані картки: у профілі терміналу в банку \
             вимкнено «ECR друкує чек» (ECR prints the slip). Без цього на фіскальному чеку \
             не буде RRN, коду авторизації та номера картки.",
            "the PrivatBank terminal does not send the card data to the till: its bank \
             profile has \"ECR prints the slip\" off. Without it the fiscal receipt has no \
             RRN, authorisation code or card number.",
        )
        .to_string(),
        lang.pick(
            "зателефонуйте в підтримку еквайрингу ПриватБанку, назвіть ID терміналу й \
             попросіть увімкнути в його профілі «ECR друкує чек» (передачу даних транзакції \
             та сліпа на касу). Потім перезапустіть термінал і знову запустіть kasa doctor.",
            "call PrivatBank's acquiring support, give the terminal id, and ask them to turn \
             on \"ECR prints the slip\" (the transaction data and slip sent to the till) in \
             the terminal's profile. Then restart the terminal and run kasa doctor again.",
        )
        .to_string(),
    )
}

fn open_error_words(lang: Lang, code: &str) -> (&'static str, &'static str) {
    match code {
        "port.permission_denied" => (
            lang.pick(
                "немає доступу до порту",
                "no permission to open the port",
            ),
            lang.pick(
                "додайте користувача каси до групи dialout (sudo usermod -aG dialout КОРИСТУВАЧ) і увійдіть знову.",
                "add the till's user to the dialout group (sudo usermod -aG dialout USER) and log in again.",
            ),
        ),
        "port.busy" => (
            lang.pick("порт зайнятий іншою програмою", "another program holds the port"),
            lang.pick(
                "якщо це запущена Kasa, перевірте пристрій кнопками тесту в налаштуваннях; інакше закрийте програму, що тримає порт (ModemManager, інша каса).",
                "if it is Kasa running, test the device with the settings' test buttons; else stop the program holding it (ModemManager, another till).",
            ),
        ),
        "tcp.unreachable" => (
            lang.pick("адреса не відповідає", "nothing accepts connections there"),
            lang.pick(
                "перевірте IP-адресу й порт на екрані пристрою, мережевий кабель і що пристрій увімкнено.",
                "check the IP address and port on the device's screen, the network cable, and that the device is on.",
            ),
        ),
        _ => (
            lang.pick("порт не відкривається", "the port does not open"),
            lang.pick(
                "перевірте, що пристрій підключено, і шлях до порту.",
                "check that the device is plugged in and the port's path.",
            ),
        ),
    }
}

/// The verdict on one scanned port; `asked` when the installer named it.
/// A port the settings give to one device where another (or nothing)
/// answers is a problem: the cables or the settings are swapped.
pub fn port_verdict(p: &PortReport, asked: bool, lang: Lang) -> Verdict {
    let mut v = found_verdict(p, asked || p.configured_as.is_some(), lang);
    let Some(want) = p.configured_as.as_deref() else {
        return v;
    };
    let got = match &p.found {
        Found::Fiscal { .. } => "fiscal",
        Found::Terminal { .. } => "terminal",
        Found::Nothing => "nothing",
    };
    if p.error.as_deref() == Some("port.busy") {
        // Kasa itself holds its own port while it runs: the device tests
        // below speak for it.
        v.outcome = Outcome::Nothing;
        v.next = lang
            .pick(
                "порт налаштованого пристрою зайнятий (мабуть, Kasa працює): дивіться тест налаштованого пристрою нижче.",
                "the configured device's port is held (Kasa is running, probably): see the configured device's test below.",
            )
            .to_string();
    } else if got != want && p.error.is_none() {
        v.outcome = Outcome::Problem;
        v.summary = format!(
            "{} ({} {want})",
            v.summary,
            lang.pick("у налаштуваннях тут", "the settings put here the")
        );
        v.next = lang
            .pick(
                "у налаштуваннях на цьому порту інший пристрій: виправте порт у налаштуваннях або поміняйте кабелі місцями.",
                "the settings put another device on this port: correct the port in the settings or swap the cables.",
            )
            .to_string();
        v.codes = format!("{} configured={want}", v.codes);
    }
    v
}

fn found_verdict(p: &PortReport, asked: bool, lang: Lang) -> Verdict {
    let device = p.path.clone();
    if let Some(code) = &p.error {
        let (what, next) = open_error_words(lang, code);
        return Verdict {
            device,
            outcome: if asked {
                Outcome::Problem
            } else {
                Outcome::Nothing
            },
            summary: what.to_string(),
            next: next.to_string(),
            codes: format!("error={code}"),
        };
    }
    match &p.found {
        Found::Fiscal {
            dialect,
            framing,
            baud,
            model,
            serial,
            firmware,
        } => Verdict {
            device,
            outcome: Outcome::Ok,
            summary: format!(
                "{} {model} ({} {serial}, {} {firmware}): {} {dialect}, {} {framing}{}",
                lang.pick("фіскальний реєстратор", "fiscal register"),
                lang.pick("серійний №", "serial"),
                lang.pick("прошивка", "firmware"),
                lang.pick("діалект", "dialect"),
                lang.pick("кадри", "framing"),
                baud.map(|b| format!(", {b} {}", lang.pick("бод", "baud")))
                    .unwrap_or_default(),
            ),
            next: lang
                .pick(
                    "вкажіть цей порт, швидкість і діалект у налаштуваннях фіскального реєстратора.",
                    "put this port, speed and dialect in the fiscal register's settings.",
                )
                .to_string(),
            codes: format!("fiscal dialect={dialect} framing={framing}"),
        },
        Found::Terminal {
            protocol,
            vendor,
            model,
            version,
            terminal_id,
            card_data,
            ..
        } => {
            let who = [vendor, model, version, terminal_id]
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let summary = format!(
                "{} {protocol}{}",
                lang.pick("платіжний термінал, протокол", "card terminal, protocol"),
                if who.is_empty() {
                    String::new()
                } else {
                    format!(" ({who})")
                }
            );
            let codes = match card_data {
                Some(c) => format!("terminal protocol={protocol} card_data={c}"),
                None => format!("terminal protocol={protocol}"),
            };
            if card_data.as_deref() == Some("missing") {
                let (why, next) = card_data_missing(lang);
                return Verdict {
                    device,
                    outcome: Outcome::Problem,
                    summary: format!("{summary}; {why}"),
                    next,
                    codes,
                };
            }
            Verdict {
                device,
                outcome: Outcome::Ok,
                summary,
                next: lang
                    .pick(
                        "вкажіть цей порт і протокол у налаштуваннях термінала.",
                        "put this port and protocol in the terminal's settings.",
                    )
                    .to_string(),
                codes,
            }
        }
        Found::Nothing => Verdict {
            device,
            outcome: if asked {
                Outcome::Problem
            } else {
                Outcome::Nothing
            },
            summary: lang
                .pick(
                    "нічого не відповіло (ні реєстратор, ні термінал)",
                    "nothing answered (no fiscal register, no terminal)",
                )
                .to_string(),
            next: if asked {
                lang.pick(
                    "перевірте, що пристрій увімкнено й підключено саме до цього порту; для реєстратора — що він не в меню налаштувань.",
                    "check that the device is on and plugged into this very port; a register must not be in its set-up menu.",
                )
                .to_string()
            } else {
                String::new()
            },
            codes: "nothing".into(),
        },
    }
}

fn test_verdict(device: String, r: &DeviceTestResult, lang: Lang) -> Verdict {
    let facts = r
        .facts
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    if r.ok {
        return Verdict {
            device,
            outcome: Outcome::Ok,
            summary: format!("{} {facts}", lang.pick("відповідає:", "answers:")),
            next: String::new(),
            codes: "ok".into(),
        };
    }
    let code = r.code.clone().unwrap_or_default();
    let next = match code.as_str() {
        "fiscal.paper_out" => lang.pick("заправте папір.", "load paper."),
        "fiscal.cover_open" => lang.pick("закрийте кришку.", "close the cover."),
        "fiscal.shift_over_24h" => lang.pick(
            "зміна триває понад 24 години: закрийте день (Z-звіт).",
            "the shift is over 24 hours: close the day (Z report).",
        ),
        c if c.contains("timeout") || c.contains("link") || c.contains("transport") => lang.pick(
            "пристрій не відповідає: перевірте живлення, кабель, порт і швидкість у налаштуваннях (kasa doctor --port ШЛЯХ покаже, що де відповідає).",
            "the device does not answer: check power, cable, port and speed in the settings (kasa doctor --port PATH shows what answers where).",
        ),
        _ => lang.pick(
            "перевірте налаштування пристрою й повторіть тест.",
            "check the device's settings and run the test again.",
        ),
    };
    Verdict {
        device,
        outcome: Outcome::Problem,
        summary: format!("{} {code} {facts}", lang.pick("помилка", "error")),
        next: next.to_string(),
        codes: code,
    }
}

/// An error's code: the device's when it has one.
fn code_of(e: &crate::Error) -> String {
    e.device_code().unwrap_or_else(|| {
        serde_json::to_value(e.code())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    })
}

/// Scan and test; every verdict.
pub async fn examine(settings: &Settings, opts: &DoctorOptions) -> Vec<Verdict> {
    let asked: Vec<String> = opts
        .ports
        .iter()
        .cloned()
        .chain(opts.tcp.iter().map(|a| format!("tcp://{a}")))
        .collect();
    // The ports the settings name are scanned too: what answers there must
    // be the device the settings say.
    let configured = [
        settings.fiscal.as_ref().map(|f| &f.endpoint),
        settings.terminal.as_ref().map(|t| &t.endpoint),
    ];
    let mut paths = opts.ports.clone();
    for e in configured.into_iter().flatten() {
        if let devio::Endpoint::Serial { path, .. } = e {
            if !paths.contains(path) {
                paths.push(path.clone());
            }
        }
    }
    let q = ScanPortsQuery {
        paths,
        tcp: opts.tcp.clone(),
        only_given: !opts.ports.is_empty() || !opts.tcp.is_empty(),
        bauds: Vec::new(),
    };
    let mut report = scan::scan(&q, &settings.installer.extra_ports).await;
    scan::mark_configured(&mut report, settings);
    let mut out: Vec<Verdict> = report
        .ports
        .iter()
        .map(|p| port_verdict(p, asked.contains(&p.path), opts.lang))
        .collect();
    if let Some(f) = &settings.fiscal {
        let device = format!(
            "{} {}",
            opts.lang
                .pick("налаштований реєстратор", "configured register"),
            f.endpoint
        );
        let v = match device_test::run_on_settings(settings, DeviceTestKind::FiscalStatus).await {
            Ok(r) => test_verdict(device, &r, opts.lang),
            Err(e) => test_verdict(
                device,
                &DeviceTestResult {
                    kind: DeviceTestKind::FiscalStatus,
                    ok: false,
                    code: Some(code_of(&e)),
                    facts: Default::default(),
                },
                opts.lang,
            ),
        };
        out.push(v);
    }
    if let Some(t) = &settings.terminal {
        let device = format!(
            "{} {}",
            opts.lang
                .pick("налаштований термінал", "configured terminal"),
            t.endpoint
        );
        let r = device_test::run_on_settings(settings, DeviceTestKind::TerminalIdentify).await;
        let mut v = match r {
            Ok(r) => test_verdict(device, &r, opts.lang),
            Err(e) => test_verdict(
                device,
                &DeviceTestResult {
                    kind: DeviceTestKind::TerminalIdentify,
                    ok: false,
                    code: Some(code_of(&e)),
                    facts: Default::default(),
                },
                opts.lang,
            ),
        };
        if v.outcome == Outcome::Ok && t.protocol == terminal::Protocol::Privatbank {
            let check =
                terminal::probe::privatbank_card_data(&t.endpoint, terminal::probe::PROBE_TIMEOUT)
                    .await;
            if check.ok() == Some(terminal::probe::CardDataCheck::Missing) {
                let (why, next) = card_data_missing(opts.lang);
                v.outcome = Outcome::Problem;
                v.summary = format!("{}; {why}", v.summary);
                v.next = next;
                v.codes = "terminal protocol=privatbank card_data=missing".into();
            }
        }
        out.push(v);
    }
    out
}

/// The verdicts as text, one device a paragraph.
pub fn render(verdicts: &[Verdict], lang: Lang) -> String {
    let mut out = String::new();
    if verdicts.is_empty() {
        out.push_str(lang.pick(
            "Портів не знайдено. Вкажіть шлях: kasa doctor --port /dev/ttyUSB0\n",
            "No ports found. Name one: kasa doctor --port /dev/ttyUSB0\n",
        ));
    }
    for v in verdicts {
        let word = match v.outcome {
            Outcome::Ok => "OK",
            Outcome::Problem => "PROBLEM",
            Outcome::Nothing => "--",
        };
        out.push_str(&format!(
            "{}: {word} — {} [{}]\n",
            v.device, v.summary, v.codes
        ));
        if !v.next.is_empty() {
            out.push_str(&format!("  {} {}\n", lang.pick("Далі:", "Next:"), v.next));
        }
    }
    let problems = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Problem)
        .count();
    out.push_str(&if problems == 0 {
        lang.pick(
            "Підсумок: проблем не знайдено.\n",
            "Verdict: no problems found.\n",
        )
        .to_string()
    } else {
        format!(
            "{} {problems}\n",
            lang.pick("Підсумок: проблем —", "Verdict: problems found:")
        )
    });
    out
}

/// `kasa doctor`: examine, print, and the exit code (1 on a problem, 2 when
/// the settings cannot be read).
pub async fn main(config: &Path, opts: DoctorOptions) -> i32 {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kasa doctor: {e}");
            return 2;
        }
    };
    let verdicts = examine(&settings, &opts).await;
    print!("{}", render(&verdicts, opts.lang));
    i32::from(verdicts.iter().any(|v| v.outcome == Outcome::Problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn privat(card_data: &str) -> PortReport {
        PortReport {
            path: "/dev/ttyACM0".into(),
            usb: None,
            found: Found::Terminal {
                protocol: "privatbank".into(),
                baud: Some(115_200),
                vendor: "PAX".into(),
                model: "s800".into(),
                version: String::new(),
                terminal_id: String::new(),
                card_data: Some(card_data.into()),
            },
            error: None,
            configured_as: None,
        }
    }

    #[test]
    fn a_profile_without_card_data_is_a_problem_in_ukrainian_by_default() {
        let v = port_verdict(&privat("missing"), false, Lang::parse("uk"));
        assert_eq!(v.outcome, Outcome::Problem);
        assert!(v.summary.contains("ECR друкує чек"), "{}", v.summary);
        assert!(
            v.next.contains("ПриватБанку"),
            "what to ask the bank: {}",
            v.next
        );
        let text = render(&[v], Lang::Uk);
        assert!(text.contains("PROBLEM") && text.contains("Далі:"), "{text}");
        let ok = port_verdict(&privat("sent"), false, Lang::En);
        assert_eq!(ok.outcome, Outcome::Ok);
    }

    #[test]
    fn a_silent_port_is_a_problem_only_when_named() {
        let mut p = privat("sent");
        p.found = Found::Nothing;
        assert_eq!(port_verdict(&p, false, Lang::En).outcome, Outcome::Nothing);
        assert_eq!(port_verdict(&p, true, Lang::En).outcome, Outcome::Problem);
        p.configured_as = Some("fiscal".into());
        let v = port_verdict(&p, false, Lang::En);
        assert_eq!(
            v.outcome,
            Outcome::Problem,
            "the settings put a register there"
        );
        assert!(v.codes.contains("configured=fiscal"), "{}", v.codes);
    }
}

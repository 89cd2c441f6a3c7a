//! A small SMTP client (RFC 5321) for alert e-mail: `EHLO`, `AUTH PLAIN` when a login is
//! given and the relay offers it, `MAIL FROM`, `RCPT TO` per recipient, `DATA` with a UTF-8
//! text message (dot-stuffed, CRLF lines), `QUIT`. It speaks to a relay on a trusted network
//! (port 25 or 587 without TLS).

use base64::Engine as _;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// A message to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub message_id: String,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error("cannot reach the SMTP relay: {0}")]
    Io(#[from] std::io::Error),
    #[error("the SMTP relay refused {what}: {code} {text}")]
    Refused {
        what: &'static str,
        code: u16,
        text: String,
    },
    #[error("the SMTP relay answered something that is not SMTP: {0:?}")]
    Garbled(String),
    #[error("the SMTP relay does not offer AUTH PLAIN, and a login was given")]
    NoAuth,
}

impl SmtpError {
    /// The relay's reply code, if it refused.
    pub fn reply_code(&self) -> Option<u16> {
        match self {
            SmtpError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    /// Read one reply (all its lines): the code and the text of its lines.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), SmtpError> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).await?;
            if n == 0 {
                return Err(SmtpError::Garbled("the connection closed".into()));
            }
            if line.len() > 4096 || lines.len() > 100 {
                return Err(SmtpError::Garbled("a reply too long".into()));
            }
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            let code: u16 = line
                .get(..3)
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| SmtpError::Garbled(line.clone()))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok((code, lines));
            }
        }
    }

    async fn expect(&mut self, what: &'static str, ok: &[u16]) -> Result<Vec<String>, SmtpError> {
        let (code, lines) = self.reply().await?;
        if ok.contains(&code) {
            Ok(lines)
        } else {
            Err(SmtpError::Refused {
                what,
                code,
                text: lines.join(" "),
            })
        }
    }

    async fn command(
        &mut self,
        line: &str,
        what: &'static str,
        ok: &[u16],
    ) -> Result<Vec<String>, SmtpError> {
        self.writer.write_all(line.as_bytes()).await?;
        self.writer.write_all(b"\r\n").await?;
        self.expect(what, ok).await
    }
}

/// A header value on one line: control characters (CR, LF) become spaces; non-ASCII text is
/// an RFC 2047 encoded word.
pub fn header_text(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.is_ascii() {
        clean
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(clean.as_bytes())
        )
    }
}

/// The message as sent after `DATA`: headers, a blank line, the dot-stuffed body, CRLF lines.
pub fn message(m: &Mail, date: &str) -> String {
    let mut out = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        header_text(&m.from),
        header_text(&m.to.join(", ")),
        header_text(&m.subject),
        header_text(&m.message_id),
    );
    for line in m.body.replace("\r\n", "\n").split('\n') {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// An RFC 5322 date for `secs` since the epoch, in UTC.
pub fn date(secs: i64) -> String {
    let c = crate::time::civil(secs);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[c.weekday as usize],
        c.day,
        MONTHS[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Send `m` through the relay at `host:port`, logging in with `login` if given.
pub async fn send(
    host: &str,
    port: u16,
    login: Option<(String, String)>,
    m: &Mail,
) -> Result<(), SmtpError> {
    let stream = TcpStream::connect((host, port)).await?;
    let (r, w) = stream.into_split();
    let mut c = Conn {
        reader: BufReader::new(r),
        writer: w,
    };
    c.expect("the connection", &[220]).await?;
    let features = c.command("EHLO covenant-platform", "EHLO", &[250]).await?;
    if let Some((user, password)) = login {
        let plain = features.iter().any(|f| {
            let f = f.to_ascii_uppercase();
            f.starts_with("AUTH") && f.split_whitespace().any(|m| m == "PLAIN")
        });
        if !plain {
            return Err(SmtpError::NoAuth);
        }
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("\0{user}\0{password}").as_bytes());
        c.command(&format!("AUTH PLAIN {token}"), "the login", &[235])
            .await?;
    }
    c.command(&format!("MAIL FROM:<{}>", m.from), "the sender", &[250])
        .await?;
    for to in &m.to {
        c.command(&format!("RCPT TO:<{to}>"), "a recipient", &[250, 251])
            .await?;
    }
    c.command("DATA", "DATA", &[354]).await?;
    let secs = crate::time::now_ms() / 1000;
    c.writer
        .write_all(message(m, &date(secs)).as_bytes())
        .await?;
    c.command(".", "the message", &[250]).await?;
    // The message is accepted; a relay that drops the line at QUIT changes nothing.
    let _ = c.command("QUIT", "QUIT", &[221]).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc_5322() {
        assert_eq!(date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(date(1_795_996_800), "Mon, 30 Nov 2026 00:00:00 +0000");
        assert_eq!(date(1_796_064_000), "Mon, 30 Nov 2026 18:40:00 +0000");
        assert_eq!(date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }

    #[test]
    fn messages_are_dot_stuffed_with_clean_headers() {
        let m = Mail {
            from: "alerts@bank-a.example".into(),
            to: vec!["ops@bank-a.example".into(), "cto@bank-a.example".into()],
            subject: "node down\r\nBcc: victim@example".into(),
            body: "line one\n.hidden\nlast".into(),
            message_id: "adl_1@covenant".into(),
        };
        let text = message(&m, "Mon, 30 Nov 2026 00:00:00 +0000");
        assert!(text.contains("Subject: node down  Bcc: victim@example\r\n"));
        assert!(!text.contains("\r\nBcc:"));
        assert!(text.contains("\r\n..hidden\r\n"));
        assert!(text.contains("To: ops@bank-a.example, cto@bank-a.example\r\n"));
        assert!(text.ends_with("last\r\n"));
        assert_eq!(header_text("节点宕机"), "=?UTF-8?B?6IqC54K55a6V5py6?=");
    }
}

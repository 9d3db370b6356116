//! `taxiid blocks delete --collection NAME … [--begin T] [--end T] [--with-messages]`: TAXII 1
//! retention, `opentaxii-delete-blocks` done right. Blocks of the named collections with a
//! timestamp label in (begin, end] are deleted (the rows themselves, so from every collection
//! that shared them), in batches; `volume` is recounted for every collection that lost a
//! block, and `--with-messages` also removes the inbox messages that delivered them once none
//! of their blocks remain. The SQL is `db::admin::delete_blocks_batch`.

use pico_args::Arguments;
use serde_json::json;
use time::OffsetDateTime;

use super::Usage;
use super::admin::{Outcome, connect, print, progress};
use crate::config::Config;
use crate::db::admin;
use crate::timefmt;

pub fn run(cfg: &Config, p: &mut Arguments) -> Result<Outcome, Usage> {
    let action: String = p
        .opt_free_from_str()
        .map_err(|e| Usage(e.to_string()))?
        .ok_or_else(|| Usage("missing action (delete)".into()))?;
    if action != "delete" {
        return Err(Usage(format!("unknown blocks action `{action}`")));
    }
    let json_out = p.contains("--json");
    let with_messages = p.contains("--with-messages");
    let names: Vec<String> = p.values_from_str("--collection").map_err(|e| Usage(e.to_string()))?;
    let begin: Option<String> = p.opt_value_from_str("--begin").map_err(|e| Usage(e.to_string()))?;
    let end: Option<String> = p.opt_value_from_str("--end").map_err(|e| Usage(e.to_string()))?;
    super::finish_args(p)?;
    if names.is_empty() {
        return Err(Usage("--collection is required".into()));
    }
    let begin = begin
        .map(|b| parse_time(&b).ok_or_else(|| Usage(format!("--begin: `{b}` is not a timestamp"))))
        .transpose()?;
    let end = end
        .map(|t| parse_time(&t).ok_or_else(|| Usage(format!("--end: `{t}` is not a timestamp"))))
        .transpose()?;
    if let (Some(b), Some(e)) = (begin, end)
        && b >= e
    {
        return Err(Usage("--begin must be before --end".into()));
    }

    let mut c = try_out!(connect(cfg));
    let found = try_out!(admin::taxii1_collection_ids(&mut *c, &names).map_err(|e| e.to_string()));
    let missing: Vec<&str> =
        names.iter().filter(|n| !found.iter().any(|(f, _)| f == *n)).map(String::as_str).collect();
    if !missing.is_empty() {
        return Ok(Outcome::Failed(format!("no TAXII 1 collection named {}", missing.join(", "))));
    }
    let ids: Vec<i32> = found.iter().map(|(_, id)| *id).collect();
    let (mut blocks, mut messages, mut affected) = (0u64, 0u64, Vec::<i32>::new());
    loop {
        let batch = try_out!(
            admin::delete_blocks_batch(&mut c, &ids, begin, end, with_messages).map_err(|e| e.to_string())
        );
        if batch.blocks == 0 {
            break;
        }
        blocks += batch.blocks;
        messages += batch.messages;
        for id in batch.collections {
            if !affected.contains(&id) {
                affected.push(id);
            }
        }
        progress(&format!("{blocks} content blocks deleted"));
    }
    let volumes = try_out!(admin::taxii1_volumes(&mut *c, &affected).map_err(|e| e.to_string()));
    let mut human = format!("{blocks} content blocks deleted");
    if with_messages {
        human.push_str(&format!(", {messages} inbox messages deleted"));
    }
    human.push('\n');
    if !volumes.is_empty() {
        let shown: Vec<String> = volumes.iter().map(|(n, v)| format!("{n} = {v}")).collect();
        human.push_str(&format!("volume recounted: {}\n", shown.join(", ")));
    }
    let collections: Vec<_> = volumes.iter().map(|(n, v)| json!({"name": n, "volume": v})).collect();
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) && blocks > 0 {
        eprintln!();
    }
    print(json_out, json!({"blocks": blocks, "messages": messages, "collections": collections}), human);
    Ok(Outcome::Done)
}

/// ISO 8601 as `opentaxii-delete-blocks` took it: RFC 3339, or a date or date-time without
/// zone (read as UTC).
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    if let Some(t) = timefmt::parse_client(s) {
        return Some(t);
    }
    if s.len() == 10 {
        return timefmt::parse_client(&format!("{s}T00:00:00Z"));
    }
    timefmt::parse_client(&format!("{s}Z"))
}

//! Subscription management on a collection-management service: SUBSCRIBE, UNSUBSCRIBE,
//! PAUSE, RESUME (1.1) and STATUS, stored in OpenTAXII's `subscriptions` (its `params` JSON
//! shape, bindings double-encoded) with the creating account in `taxiid_subscription_owner`.
//! Nothing is ever pushed (as OpenTAXII): subscriptions are stored poll parameters, and
//! Push_Parameters are accepted and ignored.
//!
//! Deviations from OpenTAXII: STATUS without an id lists the caller's own subscriptions to
//! the named collection (OpenTAXII: every subscription of the service); on a service that
//! requires authentication, a subscription made by an account is usable by that account and
//! admins only; UNSUBSCRIBED is final (PAUSE and
//! RESUME leave it so); every 1.1 record carries Subscription_Parameters (cabby needs them);
//! unsupported bindings are UNSUPPORTED_CONTENT and a Query UNSUPPORTED_QUERY (OpenTAXII:
//! HTTP 500); a 1.0 STATUS of an unknown id is NOT_FOUND (OpenTAXII lists everything).

use super::bindings::{matching, parse_subscription_params, subscription_params_json};
use super::collections::{configured, contacts};
use super::messages::*;
use super::poll::{unsupported_content, unsupported_query, visible_collection};
use super::{Caller, Ctx, Error, not_found, refuse};
use crate::db::taxii1::{self as q, CollectionRow, SubscriptionRow};

/// Whether the caller may use a subscription (poll with it, manage it, ask for it by id):
/// its creator and admins; anyone for one made anonymously or by OpenTAXII, whose id is
/// then all there is to it; and anyone on a service without authentication, which serves
/// every caller as an admin (OpenTAXII's rule: subscribing at an authenticated service and
/// polling at an open one must keep working).
pub(crate) fn may_use(caller: &Caller, sub: &SubscriptionRow) -> bool {
    caller.open
        || caller.is_admin()
        || match sub.owner {
            Some(Some(owner)) => caller.account_id() == Some(owner),
            _ => true,
        }
}

/// Whether STATUS without an id lists it: the caller's own (an anonymous caller's are the
/// anonymous ones); admins also get OpenTAXII's, whose owner is unknown.
fn is_own(caller: &Caller, sub: &SubscriptionRow) -> bool {
    match sub.owner {
        Some(owner) => owner == caller.account_id(),
        None => caller.is_admin(),
    }
}

/// A subscription as a response shows it.
struct Sub {
    id: String,
    status: SubscriptionStatus,
    response_type: ResponseType,
    bindings: Vec<ContentBinding>,
}

impl Sub {
    fn from_row(row: &SubscriptionRow) -> Result<Sub, Error> {
        let (response_type, bindings) = parse_subscription_params(&row.params)
            .map_err(|e| Error::Internal(format!("subscription {}: {e}", row.id)))?;
        let status = SubscriptionStatus::from_wire(&row.status).unwrap_or_default();
        Ok(Sub { id: row.id.clone(), status, response_type, bindings })
    }
}

pub(crate) fn manage_11(ctx: &mut Ctx, m: &ManageCollectionSubscriptionRequest) -> Result<Message, Error> {
    let c = checked_collection(ctx, m.action, m.subscription_id.as_deref(), &m.collection_name)?;
    let subs =
        act(ctx, &c, m.action, m.subscription_id.as_deref(), Some(m.subscription_parameters.as_ref()))?;
    let polls = poll_instances(ctx, &c)?;
    let subscriptions = subs
        .into_iter()
        .map(|s| SubscriptionInstance {
            status: s.status,
            subscription_id: s.id,
            subscription_parameters: SubscriptionParameters {
                response_type: s.response_type,
                content_bindings: s.bindings,
                query: None,
            },
            push_parameters: None,
            poll_instances: polls.clone(),
        })
        .collect();
    Ok(Message::ManageCollectionSubscriptionResponse(ManageCollectionSubscriptionResponse {
        message_id: new_message_id(),
        in_response_to: m.message_id.clone(),
        extended_headers: Vec::new(),
        collection_name: c.name.clone(),
        message: ctx.service.subscription_message.clone(),
        subscriptions,
    }))
}

pub(crate) fn manage_10(ctx: &mut Ctx, m: &ManageFeedSubscriptionRequest) -> Result<Message, Error> {
    let c = checked_collection(ctx, m.action, m.subscription_id.as_deref(), &m.feed_name)?;
    let subs = act(ctx, &c, m.action, m.subscription_id.as_deref(), None)?;
    // The 1.0 spec: no Poll_Instance in an UNSUBSCRIBE answer.
    let polls =
        if m.action == SubscriptionAction::Unsubscribe { Vec::new() } else { poll_instances(ctx, &c)? };
    let subscriptions = subs
        .into_iter()
        .map(|s| FeedSubscriptionInstance {
            subscription_id: s.id,
            push_parameters: None,
            poll_instances: polls.clone(),
        })
        .collect();
    Ok(Message::ManageFeedSubscriptionResponse(ManageFeedSubscriptionResponse {
        message_id: new_message_id(),
        in_response_to: m.message_id.clone(),
        extended_headers: Vec::new(),
        feed_name: c.name.clone(),
        message: ctx.service.subscription_message.clone(),
        subscriptions,
    }))
}

/// The id an action needs (BAD_MESSAGE without), then the collection (NOT_FOUND, FAILURE).
fn checked_collection(
    ctx: &mut Ctx,
    action: SubscriptionAction,
    id: Option<&str>,
    name: &str,
) -> Result<CollectionRow, Error> {
    use SubscriptionAction::*;
    if matches!(action, Unsubscribe | Pause | Resume) && id.is_none() {
        let m = format!("Action \"{}\" requires a subscription id", action.wire());
        return Err(refuse(StatusType::BadMessage, m));
    }
    visible_collection(ctx, name)
}

/// Carries out `action` on `c`. `params` is `Some` for 1.1 (the request's
/// Subscription_Parameters, if any) and `None` for 1.0, whose subscriptions OpenTAXII stores
/// with a `null` response type.
fn act(
    ctx: &mut Ctx,
    c: &CollectionRow,
    action: SubscriptionAction,
    id: Option<&str>,
    params: Option<Option<&SubscriptionParameters>>,
) -> Result<Vec<Sub>, Error> {
    use SubscriptionAction::*;
    let id = id.unwrap_or_default();
    match action {
        Subscribe => {
            let requested = params.flatten().cloned().unwrap_or_default();
            if requested.query.is_some() {
                return Err(unsupported_query());
            }
            let conf = configured(c)?;
            let bindings = matching(c.accept_all_content, &conf, &requested.content_bindings)
                .map_err(|_| unsupported_content(&conf))?;
            let stored_type = params.map(|_| requested.response_type);
            let json = subscription_params_json(stored_type, &bindings);
            let new_id = new_message_id();
            let now = crate::timefmt::now();
            q::create_subscription(
                ctx.db,
                &new_id,
                c.id,
                &json,
                &ctx.service.id,
                ctx.caller.account_id(),
                now,
            )?;
            Ok(vec![Sub {
                id: new_id,
                status: SubscriptionStatus::Active,
                response_type: requested.response_type,
                bindings,
            }])
        }
        Unsubscribe => match find(ctx, c, id)? {
            Some(row) => {
                q::set_subscription_status(ctx.db, &row.id, SubscriptionStatus::Unsubscribed.wire())?;
                Ok(vec![Sub { status: SubscriptionStatus::Unsubscribed, ..Sub::from_row(&row)? }])
            }
            // The spec: unsubscribing an unknown id succeeds.
            None => Ok(vec![Sub {
                id: id.to_string(),
                status: SubscriptionStatus::Unsubscribed,
                response_type: ResponseType::Full,
                bindings: Vec::new(),
            }]),
        },
        Pause | Resume => {
            let row =
                find(ctx, c, id)?.ok_or_else(|| not_found(id, "Requested subscription was not found"))?;
            let mut sub = Sub::from_row(&row)?;
            if sub.status != SubscriptionStatus::Unsubscribed {
                let to =
                    if action == Pause { SubscriptionStatus::Paused } else { SubscriptionStatus::Active };
                q::set_subscription_status(ctx.db, &row.id, to.wire())?;
                sub.status = to;
            }
            Ok(vec![sub])
        }
        Status if id.is_empty() => q::subscriptions_of(ctx.db, &ctx.service.id, c.id)?
            .iter()
            .filter(|s| is_own(ctx.caller, s))
            .map(Sub::from_row)
            .collect(),
        Status => {
            let row =
                find(ctx, c, id)?.ok_or_else(|| not_found(id, "Requested subscription was not found"))?;
            Ok(vec![Sub::from_row(&row)?])
        }
    }
}

/// The subscription `id` if the caller may use it; NOT_FOUND (naming the collection) when it
/// is for another collection, as OpenTAXII answers.
fn find(ctx: &mut Ctx, c: &CollectionRow, id: &str) -> Result<Option<SubscriptionRow>, Error> {
    let Some(row) = q::subscription_by_id(ctx.db, id)?.filter(|s| may_use(ctx.caller, s)) else {
        return Ok(None);
    };
    if row.collection_id != Some(c.id) {
        return Err(not_found(&c.name, "The subscription is for another collection"));
    }
    Ok(Some(row))
}

/// Where to poll a subscription: every poll service attached to the collection, per binding.
fn poll_instances(ctx: &mut Ctx, c: &CollectionRow) -> Result<Vec<ServiceContact>, Error> {
    let links = q::links(ctx.db, &[c.id])?;
    Ok(ctx
        .services
        .iter()
        .filter(|s| s.kind == ServiceType::Poll && links.iter().any(|(_, sid)| *sid == s.id))
        .flat_map(|s| contacts(s, &ctx.host))
        .collect())
}

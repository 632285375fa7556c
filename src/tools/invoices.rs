//! Invoice tools: read-only lookups of invoices held by Razorpay, Stripe or a Notion invoice book.

use super::cursor;
use crate::catalog::Committed;
use crate::domain::time::{DayEdge, parse_instant};
use crate::domain::{CustomerRef, Email, Invoice, InvoiceQuery, InvoiceStatus, Provider, ProviderId, text};
use crate::error::ToolError;
use crate::providers::IdKind;
use crate::server::Switchboard;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Arguments for `get_invoice`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct GetInvoiceArgs {
    /// The invoice's id: "inv_NmTq3XfGkZ8vYp" (Razorpay), "in_1Pgc6tB7WZ01zgkWu9fdqL6I" (Stripe), or a Notion
    /// invoice's page id or page URL. Ids are case-sensitive.
    pub invoice_id: String,
    /// Which provider holds the invoice. Optional: inferred from the id (`inv_` Razorpay, `in_` Stripe, a page
    /// id or URL Notion).
    #[serde(default, deserialize_with = "super::provider_arg")]
    pub provider: Option<Provider>,
}

/// Arguments for `list_invoices`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::portable_args)]
pub struct ListInvoicesArgs {
    /// Whose invoices: the customer's e-mail ("asha@example.com") or the provider's customer id
    /// ("cust_…" Razorpay, "cus_…" Stripe; Notion invoices are found by e-mail). Omit to list everyone's.
    #[serde(default)]
    pub customer: Option<String>,
    /// Only invoices in this normalised status, e.g. "overdue" for unpaid invoices past their due date.
    #[serde(default, deserialize_with = "status_arg")]
    pub status: Option<InvoiceStatus>,
    /// Only invoices created on or after this date: "2026-11-01" or RFC 3339.
    #[serde(default)]
    pub created_from: Option<String>,
    /// Only invoices created on or before this date (a bare date includes that whole day, UTC).
    #[serde(default)]
    pub created_to: Option<String>,
    /// How many invoices to return, 1–100. Default 10.
    #[serde(default)]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page, to continue the same listing. Omit for the first page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Which provider to list from. Optional: a configured Notion invoice book is listed by default; otherwise
    /// the only provider configured, the default one, or the one the customer id implies.
    #[serde(default, deserialize_with = "super::provider_arg")]
    pub provider: Option<Provider>,
}

/// A page of invoices.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InvoiceList {
    /// The provider these invoices came from.
    #[schemars(with = "Provider")]
    pub provider: ProviderId,
    /// Matching invoices, newest first.
    pub invoices: Vec<Invoice>,
    /// True when more matching invoices may exist: call again with `cursor` = `next_cursor`.
    pub has_more: bool,
    /// Pass as `cursor` to get the next page. Absent when there is nothing more.
    pub next_cursor: Option<String>,
}

#[tool_router(router = invoice_router, vis = "pub(crate)")]
impl Switchboard {
    /// Fetch one invoice by id from Razorpay, Stripe or the Notion invoice book: status (e.g. open, overdue,
    /// paid), total, amount still due, customer, dates, line items and the link where the customer can pay it.
    #[tool(annotations(
        title = "Get invoice",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn get_invoice(&self, Parameters(args): Parameters<GetInvoiceArgs>) -> Result<Json<Invoice>, ToolError> {
        let id = args.invoice_id.trim();
        let invoices = self.providers().invoices(super::named(args.provider), Some((IdKind::Invoice, id)))?;
        self.providers()
            .check_id(invoices.provider(), IdKind::Invoice, "invoice_id", id)
            .map_err(ToolError::invalid)?;
        let mut invoice = invoices.get_invoice(id).await?;
        super::book::annotate(self.state(), &mut invoice).await?;
        Ok(Json(invoice))
    }

    /// List invoices, newest first, to find a client's invoices: filter by customer e-mail or customer id,
    /// status (e.g. "overdue") and creation date. Returns a page plus `next_cursor` when more exist.
    #[tool(annotations(
        title = "List invoices",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn list_invoices(
        &self,
        Parameters(args): Parameters<ListInvoicesArgs>,
    ) -> Result<Json<InvoiceList>, ToolError> {
        let customer = args.customer.as_deref().map(|c| self.parse_customer(c)).transpose()?;
        let customer_id = match &customer {
            Some(CustomerRef::Id(id)) => Some((IdKind::Customer, id.as_str())),
            _ => None,
        };
        let invoices = self.providers().invoices(super::named(args.provider), customer_id)?;
        let provider = invoices.provider();
        let created_from =
            args.created_from.as_deref().map(|t| parse_instant("created_from", t, DayEdge::Start)).transpose();
        let created_to = args.created_to.as_deref().map(|t| parse_instant("created_to", t, DayEdge::End)).transpose();
        let (created_from, created_to) =
            (created_from.map_err(ToolError::invalid)?, created_to.map_err(ToolError::invalid)?);
        if let (Some(from), Some(to)) = (created_from, created_to)
            && from > to
        {
            return Err(ToolError::invalid("created_from is after created_to; swap them"));
        }
        let limit = super::page_limit(args.limit, 10)?;
        let position = args.cursor.as_deref().map(|c| cursor::decode(provider, c)).transpose()?;
        let query = InvoiceQuery { customer, status: args.status, created_from, created_to, limit, position };
        let mut page = invoices.list_invoices(&query).await?;
        for invoice in &mut page.invoices {
            super::book::annotate(self.state(), invoice).await?;
        }
        let next_cursor = page.next_position.as_deref().map(|p| cursor::encode(provider, p));
        Ok(Json(InvoiceList { provider, invoices: page.invoices, has_more: next_cursor.is_some(), next_cursor }))
    }
}

impl Switchboard {
    /// The invoice tools as served: the same handlers as [`Self::invoice_router`], described by the committed
    /// catalog instead of schemas derived at run time. `None` if the catalog lacks one of them.
    pub(crate) fn committed_invoice_routes(catalog: &mut Committed) -> Option<ToolRouter<Self>> {
        Some(
            ToolRouter::new()
                .with_route((catalog.take("get_invoice")?, Self::get_invoice))
                .with_route((catalog.take("list_invoices")?, Self::list_invoices)),
        )
    }
}

fn status_arg<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<InvoiceStatus>, D::Error> {
    super::enum_arg("status", d)
}

impl Switchboard {
    /// A customer e-mail, or a customer id some provider Switchboard knows would accept.
    fn parse_customer(&self, customer: &str) -> Result<CustomerRef, ToolError> {
        let customer = customer.trim();
        if customer.contains('@') {
            return Email::parse("customer", customer).map(CustomerRef::Email).map_err(ToolError::invalid);
        }
        if !self.providers().is_known_id(IdKind::Customer, customer) {
            return Err(ToolError::invalid(format!(
                "customer '{}' is neither an e-mail address nor a customer id ({})",
                text::clip(customer, 80),
                self.providers().id_shapes(IdKind::Customer)
            )));
        }
        Ok(CustomerRef::Id(customer.to_string()))
    }
}

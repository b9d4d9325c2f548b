// The generated, typed client against a running gateway: GATEWAY_URL, GATEWAY_TOKEN.
// It sends each operation by its trusted document id (the client preset's persistedDocuments
// hash), never its text: the gateway may run with TRUSTED_DOCUMENTS=only.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import {
  CreateCartQuoteDocument, CreateCheckoutSessionDocument, DashboardDocument, ProductsDocument,
  QuoteDocument, UpdateProfileDocument,
} from "./generated/graphql";

const url = `${process.env.GATEWAY_URL}/graphql`;
const token = process.env.GATEWAY_TOKEN ?? "";

async function call<Result, Variables>(
  document: TypedDocumentNode<Result, Variables>, variables: Variables, signedIn = false,
): Promise<Result> {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error("the document has no persisted-documents hash: regenerate the client");
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(signedIn ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ documentId: `sha256:${hash}`, variables }),
  });
  const body = (await response.json()) as { data?: Result; errors?: unknown[] };
  if (body.errors || !body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`unexpected: ${what}`);
}

async function main(): Promise<void> {
  const { products } = await call(ProductsDocument, {});
  const red = products.find((p) => p.sku === "N-RED");
  check(red?.price.amount === 3000 && red.price.currency === "USD", "N-RED costs 30.00 USD");
  const { createCartQuote } = await call(CreateCartQuoteDocument, { items: [{ sku: "N-RED", quantity: 2 }] }, true);
  const quote = createCartQuote.quote;
  check(quote !== null && quote !== undefined && quote.total.amount === 6000, "a quote of 60.00");
  const again = await call(QuoteDocument, { signature: quote!.signature });
  check(again.quote?.total.amount === 6000, "the quote reads back");
  const { createCheckoutSession } = await call(
    CreateCheckoutSessionDocument, { quoteSignature: quote!.signature }, true);
  const session = createCheckoutSession.checkoutSession;
  check(session?.status === "OPEN" && session.total?.amount === 6000, "an open session for 60.00");
  const { updateProfile } = await call(UpdateProfileDocument, { input: { displayName: "Typed" } }, true);
  check(updateProfile.profile?.displayName === "Typed", "the profile updates");
  const { viewer } = await call(DashboardDocument, { first: 5 }, true);
  check(viewer !== null && viewer !== undefined, "a viewer");
  console.log(JSON.stringify({ products: products.length, quote: quote!.total.amount, session: session!.id,
                               viewer: viewer!.displayName }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_GQLCOST_H
#define TILLROLL_GQLCOST_H

/*
 * The requested cost of a GraphQL query document, by the rules Shopify
 * publishes for its Admin API (reference/shopify.md section 2.1): a
 * scalar or enum field costs 0, an object 1 plus its fields, a connection
 * (or list) asked with a first argument 2 plus first times the cost of one
 * node (1 plus its fields), pageInfo and cursors nothing, a mutation 10.
 * Inline fragments add their fields.  Shopify's own figure can differ: a
 * caller that sends queries should trust requestedQueryCost from the
 * answers and use this as the estimate before the first answer.
 *
 * Only the executable subset is read: one operation, fields, aliases,
 * arguments (variables, numbers, strings, enums, lists) and inline
 * fragments; no named fragments, directives or object literals.  Nothing
 * allocates beyond the call, nothing prints.
 */

#include <jv.h>

/*
 * The cost of doc with variables (an object, borrowed) giving the values
 * of "$name" arguments.  Returns the cost (at least 0), or -1 when doc is
 * outside the subset above or a first argument is not an integer.
 */
long gql_cost(const char *doc, jv variables);

#endif

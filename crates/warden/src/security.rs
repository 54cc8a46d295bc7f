//! Security dependencies: credentials, authenticators, and how they combine.
//!
//! Everything a handler can name as security implements [`SecurityInput`]: it knows how to
//! resolve itself from a request *and* which OpenAPI security requirements it stands for. The
//! two are written next to each other for every combinator, so what is enforced is what is
//! documented:
//!
//! | type | enforces | documents |
//! |---|---|---|
//! | [`Credentials<S>`] | the scheme's credential is present | `[{S: scopes}]` |
//! | [`Security<A, Scopes>`] | `A`'s input, then `A::authenticate` with the scopes | `A`'s input, with the scopes |
//! | `Option<I>` | `I`, or `None` when credentials are missing | `I`'s requirements plus `{}` |
//! | `(I1, I2, ...)` | every one (AND) | one requirement object naming each |
//! | [`Either<L, R>`] | the first that succeeds (OR) | separate requirement objects |

use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use aide::generate::GenContext;
use aide::openapi::{Operation, Response, SecurityRequirement};
use aide::operation::OperationInput;
use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;
use serde_json::Value;

use crate::error::AuthError;
use crate::openapi::SCHEMES_EXTENSION;
use crate::scheme::{SchemeKind, SecurityScheme};
use crate::scopes::{ScopeList, SecurityScopes};

/// The OpenAPI security requirements a [`SecurityInput`] stands for: alternatives (OR), each a
/// requirement object whose schemes are all required (AND), and the schemes they name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Requirements {
    alternatives: Vec<SecurityRequirement>,
    schemes: Vec<(String, Value)>,
}

impl Requirements {
    /// One scheme, required, with the given scopes.
    pub fn scheme(name: &str, scopes: &[&str], definition: Value) -> Self {
        let mut requirement = SecurityRequirement::default();
        requirement.insert(
            name.to_owned(),
            scopes.iter().map(|s| (*s).to_owned()).collect(),
        );
        Self {
            alternatives: vec![requirement],
            schemes: vec![(name.to_owned(), definition)],
        }
    }

    /// The alternatives, as they go in an operation's `security`.
    pub fn alternatives(&self) -> &[SecurityRequirement] {
        &self.alternatives
    }

    /// The schemes named, with their Security Scheme Objects.
    pub fn schemes(&self) -> &[(String, Value)] {
        &self.schemes
    }

    /// Both required: every alternative of `self` combined with every alternative of `other`.
    pub fn and(self, other: Self) -> Self {
        let mut alternatives = Vec::new();
        for left in &self.alternatives {
            for right in &other.alternatives {
                push_unique(&mut alternatives, merge(left, right));
            }
        }
        Self {
            alternatives,
            schemes: concat(self.schemes, other.schemes),
        }
    }

    /// Either one.
    pub fn or(mut self, other: Self) -> Self {
        for alternative in other.alternatives {
            push_unique(&mut self.alternatives, alternative);
        }
        Self {
            alternatives: self.alternatives,
            schemes: concat(self.schemes, other.schemes),
        }
    }

    /// Optional: adds the empty requirement `{}`.
    pub fn optional(mut self) -> Self {
        push_unique(&mut self.alternatives, SecurityRequirement::default());
        self
    }

    fn requires_scopes(&self) -> bool {
        self.alternatives
            .iter()
            .flat_map(|r| r.values())
            .any(|scopes| !scopes.is_empty())
    }
}

/// One requirement object holding both: a scheme in both keeps the union of its scopes.
fn merge(left: &SecurityRequirement, right: &SecurityRequirement) -> SecurityRequirement {
    let mut out = left.clone();
    for (name, scopes) in right {
        let entry = out.entry(name.clone()).or_default();
        for scope in scopes {
            if !entry.contains(scope) {
                entry.push(scope.clone());
            }
        }
    }
    out
}

fn push_unique(list: &mut Vec<SecurityRequirement>, item: SecurityRequirement) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn concat(mut a: Vec<(String, Value)>, b: Vec<(String, Value)>) -> Vec<(String, Value)> {
    for item in b {
        if !a.contains(&item) {
            a.push(item);
        }
    }
    a
}

/// Something a handler or an authenticator can name as its security.
///
/// Implemented by [`Credentials`], [`Security`], `Option`, tuples and [`Either`]; applications
/// write [`Authenticator`]s instead of implementing this.
pub trait SecurityInput<S>: Sized + Send {
    /// Resolves from the request; `scopes` are those required by whoever asked for it.
    fn resolve(
        parts: &mut Parts,
        state: &S,
        scopes: &SecurityScopes,
    ) -> impl Future<Output = Result<Self, AuthError>> + Send;

    /// The security requirements this stands for, given the scopes required around it.
    fn requirements(scopes: &SecurityScopes) -> Requirements;
}

/// A scheme's credential, as the scheme found it in the request: FastAPI's
/// `Depends(oauth2_scheme)`. Missing or unparsable credentials are a 401 with the scheme's
/// challenge.
///
/// ```
/// use aide::axum::{ApiRouter, routing::get};
/// use warden::Credentials;
/// use warden::scheme::OAuth2PasswordBearer;
///
/// warden::security_scheme! {
///     pub OAuth2: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token");
/// }
///
/// async fn read_items(Credentials(token): Credentials<OAuth2>) -> String {
///     token
/// }
///
/// let app: ApiRouter = ApiRouter::new().api_route("/items/", get(read_items));
/// ```
pub struct Credentials<S: SecurityScheme>(pub <S::Kind as SchemeKind>::Credentials);

impl<S: SecurityScheme> Credentials<S> {
    /// The credential.
    pub fn into_inner(self) -> <S::Kind as SchemeKind>::Credentials {
        self.0
    }
}

impl<S: SecurityScheme> Deref for Credentials<S> {
    type Target = <S::Kind as SchemeKind>::Credentials;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<S: SecurityScheme, St: Sync> SecurityInput<St> for Credentials<S> {
    fn resolve(
        parts: &mut Parts,
        _: &St,
        scopes: &SecurityScopes,
    ) -> impl Future<Output = Result<Self, AuthError>> + Send {
        let scheme = S::scheme();
        let result = scheme
            .extract(parts)
            .map(Credentials)
            .ok_or_else(|| AuthError::not_authenticated(scheme.challenge(scopes)));
        std::future::ready(result)
    }

    fn requirements(scopes: &SecurityScopes) -> Requirements {
        let scheme = S::scheme();
        let scopes = if scheme.uses_scopes() {
            scopes.scopes()
        } else {
            &[]
        };
        Requirements::scheme(scheme.name(), scopes, scheme.openapi())
    }
}

/// Turns the credentials of a scheme (or of several) into the application's caller: FastAPI's
/// `get_current_user`. Write it once; use it in any handler as [`Security<Self, Scopes>`].
///
/// ```
/// use warden::{AuthError, Authenticator, Challenge, Credentials, SecurityScopes};
/// use warden::scheme::OAuth2PasswordBearer;
///
/// warden::security_scheme! {
///     pub OAuth2: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token");
/// }
///
/// pub struct User { pub name: String }
///
/// impl Authenticator for User {
///     type State = ();
///     type Input = Credentials<OAuth2>;
///
///     async fn authenticate(
///         Credentials(token): Credentials<OAuth2>,
///         _scopes: &SecurityScopes,
///         _state: &(),
///     ) -> Result<Self, AuthError> {
///         match token.strip_prefix("fake-") {
///             Some(name) => Ok(User { name: name.to_owned() }),
///             None => Err(AuthError::unauthorized("Could not validate credentials", Challenge::bearer())),
///         }
///     }
/// }
/// ```
pub trait Authenticator: Sized + Send + 'static {
    /// The application state it reads (the router's state, or a part of it through `FromRef`).
    type State: Clone + Send + Sync + 'static;

    /// The security it builds on: [`Credentials`], another [`Security`], or a combination.
    type Input: SecurityInput<Self::State>;

    /// Checks the input against the required `scopes`; errors become the answer.
    fn authenticate(
        input: Self::Input,
        scopes: &SecurityScopes,
        state: &Self::State,
    ) -> impl Future<Output = Result<Self, AuthError>> + Send;
}

/// Optional authentication: `None` when the credentials are missing, an error when they are
/// present but refused. Documented with the empty requirement `{}`.
impl<A: Authenticator> Authenticator for Option<A> {
    type State = A::State;
    type Input = Option<A::Input>;

    async fn authenticate(
        input: Self::Input,
        scopes: &SecurityScopes,
        state: &Self::State,
    ) -> Result<Self, AuthError> {
        match input {
            Some(input) => A::authenticate(input, scopes, state).await.map(Some),
            None => Ok(None),
        }
    }
}

/// An authenticated caller with the scopes a route requires: FastAPI's
/// `Security(get_current_user, scopes=[...])`. As a handler argument it enforces the security
/// and documents it; as an [`Authenticator::Input`] it adds its scopes to those around it.
///
/// ```
/// # use warden::{AuthError, Authenticator, Credentials, SecurityScopes};
/// # use warden::scheme::OAuth2PasswordBearer;
/// # warden::security_scheme! { pub OAuth2: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token"); }
/// # pub struct User { pub name: String }
/// # impl Authenticator for User {
/// #     type State = ();
/// #     type Input = Credentials<OAuth2>;
/// #     async fn authenticate(c: Credentials<OAuth2>, _: &SecurityScopes, _: &()) -> Result<Self, AuthError> {
/// #         Ok(User { name: c.0 })
/// #     }
/// # }
/// use warden::Security;
///
/// warden::scopes! { pub ItemsRead = ["items:read"]; }
///
/// async fn read_items(user: Security<User, ItemsRead>) -> String {
///     format!("items of {}", user.name)
/// }
/// ```
pub struct Security<A, Sc = ()>(pub A, pub PhantomData<Sc>);

impl<A, Sc> Security<A, Sc> {
    /// The authenticated value.
    pub fn into_inner(self) -> A {
        self.0
    }
}

impl<A, Sc> Deref for Security<A, Sc> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.0
    }
}

impl<A, Sc> DerefMut for Security<A, Sc> {
    fn deref_mut(&mut self) -> &mut A {
        &mut self.0
    }
}

impl<S, A, Sc> SecurityInput<S> for Security<A, Sc>
where
    S: Sync,
    A: Authenticator,
    A::State: FromRef<S>,
    Sc: ScopeList,
{
    async fn resolve(
        parts: &mut Parts,
        state: &S,
        scopes: &SecurityScopes,
    ) -> Result<Self, AuthError> {
        let scopes = scopes.with(Sc::SCOPES);
        let state = A::State::from_ref(state);
        let input = A::Input::resolve(parts, &state, &scopes).await?;
        let value = A::authenticate(input, &scopes, &state).await?;
        Ok(Security(value, PhantomData))
    }

    fn requirements(scopes: &SecurityScopes) -> Requirements {
        A::Input::requirements(&scopes.with(Sc::SCOPES))
    }
}

impl<S: Sync, I: SecurityInput<S>> SecurityInput<S> for Option<I> {
    async fn resolve(
        parts: &mut Parts,
        state: &S,
        scopes: &SecurityScopes,
    ) -> Result<Self, AuthError> {
        match I::resolve(parts, state, scopes).await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_missing_credentials() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn requirements(scopes: &SecurityScopes) -> Requirements {
        I::requirements(scopes).optional()
    }
}

/// Alternatives: the first that authenticates wins (OpenAPI's separate requirement objects).
///
/// When both fail and both answers are 401, the answer is `401 Not authenticated` with the
/// first alternative's challenge (the client did not authenticate by any accepted means; it
/// counts as missing credentials for `Option` only when neither alternative found any);
/// otherwise the first refusal that is not a 401 (a 403, a 400 "Inactive user") is the answer,
/// since that client did authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Either<L, R> {
    /// The first alternative authenticated.
    Left(L),
    /// The second alternative authenticated.
    Right(R),
}

impl<S, L, R> SecurityInput<S> for Either<L, R>
where
    S: Sync,
    L: SecurityInput<S>,
    R: SecurityInput<S>,
{
    async fn resolve(
        parts: &mut Parts,
        state: &S,
        scopes: &SecurityScopes,
    ) -> Result<Self, AuthError> {
        let left = match L::resolve(parts, state, scopes).await {
            Ok(value) => return Ok(Either::Left(value)),
            Err(e) => e,
        };
        let right = match R::resolve(parts, state, scopes).await {
            Ok(value) => return Ok(Either::Right(value)),
            Err(e) => e,
        };
        let unauthorized = http::StatusCode::UNAUTHORIZED;
        Err(
            match (
                left.status() == unauthorized,
                right.status() == unauthorized,
            ) {
                (false, _) => left,
                (true, false) => right,
                (true, true) => match left.challenge().cloned() {
                    // Nothing was sent for either: missing credentials (which `Option` turns into None).
                    Some(challenge)
                        if left.is_missing_credentials() && right.is_missing_credentials() =>
                    {
                        AuthError::not_authenticated(challenge)
                    }
                    // Something was sent and refused: the same answer, but never mistaken for "none".
                    Some(challenge) => AuthError::unauthorized("Not authenticated", challenge),
                    None => left,
                },
            },
        )
    }

    fn requirements(scopes: &SecurityScopes) -> Requirements {
        L::requirements(scopes).or(R::requirements(scopes))
    }
}

macro_rules! all_of {
    ($($ty:ident),+) => {
        /// All of them (AND), resolved in order.
        impl<S: Sync, $($ty: SecurityInput<S>),+> SecurityInput<S> for ($($ty,)+) {
            async fn resolve(parts: &mut Parts, state: &S, scopes: &SecurityScopes) -> Result<Self, AuthError> {
                Ok(($($ty::resolve(parts, state, scopes).await?,)+))
            }

            fn requirements(scopes: &SecurityScopes) -> Requirements {
                let mut out: Option<Requirements> = None;
                $(
                    let next = $ty::requirements(scopes);
                    out = Some(match out { Some(r) => r.and(next), None => next });
                )+
                out.unwrap_or_default()
            }
        }
    };
}
all_of!(A, B);
all_of!(A, B, C);
all_of!(A, B, C, D);

// ---- handler arguments: enforcement and documentation from the same type ----

impl<S, A, Sc> FromRequestParts<S> for Security<A, Sc>
where
    S: Send + Sync,
    A: Authenticator,
    A::State: FromRef<S>,
    Sc: ScopeList,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        <Self as SecurityInput<S>>::resolve(parts, state, &SecurityScopes::default()).await
    }
}

impl<S, Sch> FromRequestParts<S> for Credentials<Sch>
where
    S: Send + Sync,
    Sch: SecurityScheme,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AuthError> {
        <Self as SecurityInput<S>>::resolve(parts, state, &SecurityScopes::default()).await
    }
}

impl<A, Sc> OperationInput for Security<A, Sc>
where
    A: Authenticator,
    Sc: ScopeList,
{
    fn operation_input(_: &mut GenContext, operation: &mut Operation) {
        document(operation, &Self::handler_requirements());
    }

    fn inferred_early_responses(
        _: &mut GenContext,
        _: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        error_responses(&Self::handler_requirements())
    }
}

impl<A: Authenticator, Sc: ScopeList> Security<A, Sc> {
    fn handler_requirements() -> Requirements {
        A::Input::requirements(&SecurityScopes::default().with(Sc::SCOPES))
    }
}

impl<Sch: SecurityScheme> OperationInput for Credentials<Sch> {
    fn operation_input(_: &mut GenContext, operation: &mut Operation) {
        document(
            operation,
            &<Self as SecurityInput<()>>::requirements(&SecurityScopes::default()),
        );
    }

    fn inferred_early_responses(
        _: &mut GenContext,
        _: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        error_responses(&<Self as SecurityInput<()>>::requirements(
            &SecurityScopes::default(),
        ))
    }
}

/// ANDs `requirements` into the operation's `security` and records the schemes it names, for
/// [`finish`](crate::openapi::finish) to move into `components.securitySchemes`.
fn document(operation: &mut Operation, requirements: &Requirements) {
    let existing = std::mem::take(&mut operation.security);
    operation.security = if existing.is_empty() {
        requirements.alternatives.clone()
    } else {
        let existing = Requirements {
            alternatives: existing,
            schemes: Vec::new(),
        };
        existing.and(requirements.clone()).alternatives
    };
    let schemes = operation
        .extensions
        .entry(SCHEMES_EXTENSION.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = schemes {
        for (name, definition) in &requirements.schemes {
            list.push(serde_json::json!([name, definition]));
        }
    }
}

fn error_responses(requirements: &Requirements) -> Vec<(Option<u16>, Response)> {
    let mut out = vec![(
        Some(401),
        detail_response("Not authenticated, or the credentials are not valid"),
    )];
    if requirements.requires_scopes() {
        out.push((Some(403), detail_response("Not enough permissions")));
    }
    out
}

fn detail_response(description: &str) -> Response {
    let schema = schemars::json_schema!({
        "type": "object",
        "properties": { "detail": { "type": "string" } },
        "required": ["detail"],
    });
    crate::openapi::json_response(description, schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(name: &str, scopes: &[&str]) -> Requirements {
        Requirements::scheme(name, scopes, json!({}))
    }

    fn alternatives(r: &Requirements) -> Value {
        serde_json::to_value(r.alternatives()).unwrap_or_default()
    }

    #[test]
    fn and_is_one_object_or_is_two() {
        assert_eq!(
            alternatives(&req("A", &[]).and(req("B", &[]))),
            json!([{"A": [], "B": []}])
        );
        assert_eq!(
            alternatives(&req("A", &[]).or(req("B", &[]))),
            json!([{"A": []}, {"B": []}])
        );
    }

    #[test]
    fn optional_adds_the_empty_requirement_once() {
        assert_eq!(
            alternatives(&req("A", &[]).optional().optional()),
            json!([{"A": []}, {}])
        );
        // A AND optional(B): A alone, or A with B.
        assert_eq!(
            alternatives(&req("A", &[]).and(req("B", &[]).optional())),
            json!([{"A": [], "B": []}, {"A": []}])
        );
    }

    #[test]
    fn a_scheme_reached_twice_merges_its_scopes() {
        let r = req("O", &["items", "me"]).and(req("O", &["me", "admin"]));
        assert_eq!(alternatives(&r), json!([{"O": ["items", "me", "admin"]}]));
        assert_eq!(r.schemes().len(), 1);
    }
}

// The /verify decision: may this caller ask, is this device genuine, does its user have access to the service.
// Warm requests are answered from memory (no query, no HMAC, no decryption) and synchronously; cold ones need
// one round trip (two when the caller uses a proxy token).
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import { type KeyRing, sealContext, tokenMatches, UnreadableSecretError } from './crypto.js';
import type { Decision, Identity, VerifyOutcome } from './decisions.js';
import { type Devices, signedInWithin } from './devices.js';
import { newGrant } from './grants.js';
import { isServiceName, parseScope } from './identity.js';
import type { LastSeen } from './last-seen.js';
import type { Grant, StoredTokenHash, User } from './model.js';
import type { Store } from './ports.js';
import { type CompiledRule, describeRule, type FactNeeds, NEEDS_SUBJECT, type RequestFacts, RuleMatcher } from './rules.js';
import type { CachedAnswer, CachedCaller, CachedDevice, VerifyCache } from './verify-cache.js';

const BAD_CREDENTIAL: VerifyOutcome = { kind: 'bad-credential' };
const UNAUTHENTICATED: VerifyOutcome = { kind: 'unauthenticated' };

const CREDENTIAL_SHAPE = /^[\x21-\x7e]{16,512}$/;

/**
 * Reads what rules match on from a request; only called for a service that has rules, and reads only what its
 * rules `needs` (the client's address, the method-override headers).
 */
export type ReadFacts<R> = (request: R, needs: FactNeeds) => RequestFacts;

/** Facts of a request that has none to give (in-process callers without a proxy). */
const NO_FACTS: RequestFacts = { path: undefined, method: 'GET', client: undefined };
const NO_RULES = new RuleMatcher([]);

/** The refusal for a path that rules cannot be checked against. */
const UNREADABLE_RULE = 'unreadable path (rules need the path the proxy forwarded, in a readable form)';
/** The refusal for a request whose method rules cannot be sure of. */
const OVERRIDDEN_RULE = 'method override header (rules that look at methods need the one method the app will run)';

/** Each compiled rule's description, made once. */
const descriptions = new WeakMap<CompiledRule, string>();
function described(rule: CompiledRule): string {
  let d = descriptions.get(rule);
  if (d === undefined) {
    d = describeRule(rule.source);
    descriptions.set(rule, d);
  }
  return d;
}

export interface AccessDeps {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
  readonly cache: VerifyCache;
  /** Validates the cookie pair against the row the look-up found. */
  readonly devices: Devices;
  readonly lastSeen?: LastSeen | undefined;
}

export class Access {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  readonly #cache: VerifyCache;
  readonly #devices: Devices;
  readonly #lastSeen: LastSeen | undefined;

  constructor(deps: AccessDeps) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    this.#cache = deps.cache;
    this.#devices = deps.devices;
    this.#lastSeen = deps.lastSeen;
  }

  /**
   * The reference's decision order: caller credential, then device, then service, then grant; a service's access
   * rules (first match wins) come in where they need to: `public` and `deny` rules that name nobody before any
   * cookie is looked at, the rest once the device is known. A credential is either that service's own token or
   * any proxy token. The answer itself when everything needed is in memory (or the credential is malformed); a
   * promise only when the database must be asked. `request` and `readFacts` give the method, path and client
   * address rules match on; they are read only for a service that has rules.
   */
  verify<R>(
    serviceName: string,
    credential: string | undefined,
    device: DeviceCredential | undefined,
    request?: R,
    readFacts?: ReadFacts<R>,
  ): VerifyOutcome | Promise<VerifyOutcome> {
    if (credential === undefined) return BAD_CREDENTIAL;
    // The warm path: this exact request was allowed a moment ago (its key can only match a well-formed credential),
    // and the service has no rules that could make the path, method or address matter.
    let warmRefused = false;
    if (device !== undefined) {
      const warm = this.#cache.request(device, serviceName, credential);
      // Refused a moment ago for its cookie pair, with this same caller credential accepted: refused again, unless
      // a rule says otherwise.
      if (warm === 'bad') warmRefused = true;
      else if (warm !== undefined) {
        const { matcher } = warm;
        if (matcher.isEmpty) {
          this.#lastSeen?.record(warm.outcome.deviceId, warm.outcome.userId, warm.serviceId);
          return warm.outcome;
        }
        // A service with rules: this device was allowed a moment ago; the rules decide about this path.
        const facts = readFacts && request !== undefined ? readFacts(request, matcher) : NO_FACTS;
        return this.#warmWithRules(matcher, facts, warm);
      }
    }
    const facts = (needs: FactNeeds): RequestFacts => (readFacts && request !== undefined ? readFacts(request, needs) : NO_FACTS);
    // A caller in memory was well-formed when it was checked (only those are remembered): the same string still is.
    const caller = this.#cache.caller(serviceName, credential);
    if (!caller && !CREDENTIAL_SHAPE.test(credential)) return BAD_CREDENTIAL;
    if (caller) {
      if (caller.serviceId === null) {
        if (!device || warmRefused) return UNAUTHENTICATED;
        const found = this.#cache.deviceOrBad(device);
        if (found === 'bad') return UNAUTHENTICATED;
        if (found !== undefined) return { kind: 'unknown-service', email: found.user.email };
        return this.#verifyCold(serviceName, credential, caller, device, facts);
      }
      const serviceId = caller.serviceId;
      const matcher = this.#cache.rules(serviceId);
      if (matcher !== undefined) {
        const warm = this.#fromMemory(matcher, serviceId, device, warmRefused, facts, { serviceName, credential });
        if (warm !== undefined) return warm;
      }
    }
    return this.#verifyCold(serviceName, credential, caller, device, facts);
  }

  /** A warm hit on a service with rules: the rules against the remembered device, no other look-up. */
  #warmWithRules(matcher: RuleMatcher, facts: RequestFacts, warm: CachedAnswer): VerifyOutcome {
    const early = this.#ruleFirst(matcher, facts);
    if (early !== undefined) return early;
    const { found } = warm;
    const rule = matcher.match(facts, { email: found.user.email, groups: found.groups ?? [] });
    const refused = this.#policyRefusal(rule === NEEDS_SUBJECT ? undefined : rule, found);
    if (refused !== undefined) return refused;
    this.#lastSeen?.record(warm.outcome.deviceId, warm.outcome.userId, warm.serviceId);
    return warm.outcome;
  }

  /** What a matched rule refuses a signed-in device: `public` and `deny` answers, a step-up or a fresh sign-in. */
  #policyRefusal(rule: CompiledRule | undefined, found: CachedDevice): VerifyOutcome | undefined {
    if (rule === undefined) return undefined;
    if (rule.policy.kind === 'public') return { kind: 'public', rule: described(rule) };
    if (rule.policy.kind === 'deny') return { kind: 'denied', rule: described(rule), email: found.user.email };
    if (rule.policy.kind === 'passkey' && found.device.signedInWith !== 'passkey') {
      return { kind: 'step-up', rule: described(rule), email: found.user.email };
    }
    if (rule.policy.kind === 'recent' && !signedInWithin(found.device, rule.policy.minutes * 60_000, this.#clock.now())) {
      return { kind: 'fresh-sign-in', rule: described(rule), email: found.user.email };
    }
    return undefined;
  }

  /** The answer from memory alone, or `undefined` when the database must be asked. */
  #fromMemory(
    matcher: RuleMatcher,
    serviceId: number,
    device: DeviceCredential | undefined,
    warmRefused: boolean,
    readFacts: (needs: FactNeeds) => RequestFacts,
    request: { serviceName: string; credential: string },
  ): VerifyOutcome | undefined {
    let facts: RequestFacts | undefined;
    if (!matcher.isEmpty) {
      facts = readFacts(matcher);
      const early = this.#ruleFirst(matcher, facts);
      if (early !== undefined) return early;
    }
    if (!device || warmRefused) return this.#anonymous(matcher, facts);
    const found = this.#cache.deviceOrBad(device);
    if (found === 'bad') {
      this.#cache.rememberBadRequest(device, request.serviceName, request.credential);
      return this.#anonymous(matcher, facts);
    }
    if (found === undefined || (!matcher.isEmpty && found.groups === undefined)) return undefined;
    const decision = this.#cache.decision(found.user.id, serviceId);
    if (decision === undefined) return undefined;
    return this.#decided(matcher, facts, found, serviceId, decision, { device, ...request });
  }

  /**
   * What rules that name nobody decide before any cookie is read: `public`, `deny`, an unreadable path, a
   * method-override header.
   */
  #ruleFirst(matcher: RuleMatcher, facts: RequestFacts): VerifyOutcome | undefined {
    if (matcher.usesPaths && facts.path === undefined) return { kind: 'denied', rule: UNREADABLE_RULE, email: undefined };
    if (matcher.usesMethods && facts.methodOverridden) return { kind: 'denied', rule: OVERRIDDEN_RULE, email: undefined };
    const rule = matcher.match(facts, undefined);
    if (rule === undefined || rule === NEEDS_SUBJECT) return undefined;
    if (rule.policy.kind === 'public') return { kind: 'public', rule: described(rule) };
    if (rule.policy.kind === 'deny') return { kind: 'denied', rule: described(rule), email: undefined };
    return undefined;
  }

  /** Nobody is signed in: a rule may still make the path public or closed; else sign in. */
  #anonymous(matcher: RuleMatcher, facts: RequestFacts | undefined): VerifyOutcome {
    if (facts === undefined || matcher.isEmpty) return UNAUTHENTICATED;
    const rule = matcher.match(facts, null);
    if (rule === undefined || rule === NEEDS_SUBJECT) return UNAUTHENTICATED;
    if (rule.policy.kind === 'public') return { kind: 'public', rule: described(rule) };
    // A rule naming users or groups before the deny could still let a signed-in person in: ask them to sign in
    // first (as Authelia does), rather than closing the door on someone who is only signed out.
    if (rule.policy.kind === 'deny') {
      if (matcher.match(facts, undefined) === NEEDS_SUBJECT) return UNAUTHENTICATED;
      return { kind: 'denied', rule: described(rule), email: undefined };
    }
    return UNAUTHENTICATED;
  }

  /** The signed-in user's answer: the rule that matches them, then their grant, then how and when they signed in. */
  #decided(
    matcher: RuleMatcher,
    facts: RequestFacts | undefined,
    found: CachedDevice,
    serviceId: number,
    decision: Decision,
    request: { device: DeviceCredential; serviceName: string; credential: string },
  ): VerifyOutcome {
    const rule =
      facts === undefined || matcher.isEmpty ? undefined : matcher.match(facts, { email: found.user.email, groups: found.groups ?? [] });
    const matched = rule === NEEDS_SUBJECT ? undefined : rule;
    if (matched?.policy.kind === 'public') return { kind: 'public', rule: described(matched) };
    if (matched?.policy.kind === 'deny') return { kind: 'denied', rule: described(matched), email: found.user.email };
    if (decision.kind === 'forbidden') return { kind: 'forbidden', email: found.user.email };
    const refused = this.#policyRefusal(matched, found);
    if (refused !== undefined) return refused;
    return this.#outcome(decision, found, serviceId, matcher, request);
  }

  async #verifyCold(
    serviceName: string,
    credential: string,
    cachedCaller: CachedCaller | undefined,
    device: DeviceCredential | undefined,
    readFacts: (needs: FactNeeds) => RequestFacts,
  ): Promise<VerifyOutcome> {
    this.#cache.countMiss();
    const name = isServiceName(serviceName) ? serviceName : undefined;
    const { found, service, grant, ruleCount, groups, groupScopes } = await this.#store.lookupForVerify(device?.deviceId, name);
    if (!cachedCaller) {
      if (!(await this.#callerMayVerify(credential, service?.token))) return BAD_CREDENTIAL;
      this.#cache.rememberCaller(serviceName, credential, service?.id ?? null);
    }

    let matcher: RuleMatcher | undefined;
    let facts: RequestFacts | undefined;
    if (service) {
      matcher = await this.#rulesOf(service.id, ruleCount ?? 0);
      if (!matcher.isEmpty) {
        facts = readFacts(matcher);
        const early = this.#ruleFirst(matcher, facts);
        if (early !== undefined) return early;
      }
    }

    // The device is remembered with its user's groups: what a service's rules are evaluated against.
    const authenticated = this.#devices.validate(device, found && { ...found, groups: groups ?? [] });
    if (!authenticated || !device) {
      if (device) this.#cache.rememberBadRequest(device, serviceName, credential);
      return matcher ? this.#anonymous(matcher, facts) : UNAUTHENTICATED;
    }
    if (!service || !matcher) return { kind: 'unknown-service', email: authenticated.user.email };
    const withGroups: CachedDevice = authenticated;

    const decision = await this.#decide(authenticated.user, service.id, grant, groupScopes ?? []);
    this.#cache.rememberDecision(authenticated.user.id, service.id, decision);
    return this.#decided(matcher, facts, withGroups, service.id, decision, { device, serviceName, credential });
  }

  /** The service's compiled rules, from memory or built from the database (only asked when it has some). */
  async #rulesOf(serviceId: number, ruleCount: number): Promise<RuleMatcher> {
    const cached = this.#cache.rules(serviceId);
    if (cached !== undefined) return cached;
    const matcher = ruleCount === 0 ? NO_RULES : new RuleMatcher(await this.#store.rules.list(serviceId));
    this.#cache.rememberRules(serviceId, matcher);
    return matcher;
  }

  /** The outcome of a decision; an allow is remembered whole for the exact request that earned it. */
  #outcome(
    decision: Extract<Decision, { kind: 'allow' }>,
    found: CachedDevice,
    serviceId: number,
    matcher: RuleMatcher,
    request: { device: DeviceCredential; serviceName: string; credential: string },
  ): VerifyOutcome {
    const { user, device } = found;
    this.#lastSeen?.record(device.id, user.id, serviceId);
    const outcome = { kind: 'allow', identity: decision.identity, userId: user.id, deviceId: device.id } as const;
    this.#cache.rememberAnswer(request.device, request.serviceName, request.credential, { outcome, serviceId, found, matcher });
    return outcome;
  }

  /**
   * A user's access to a service: their own grant, their groups' grants (`groupScopes`, one per granting group),
   * or being an admin. The identity's scope is the union of the grants'. A user with access through a group only
   * gets their pseudonymous token on first use, in a row marked as no grant of its own.
   */
  async #decide(user: User, serviceId: number, grant: Grant | undefined, groupScopes: readonly string[]): Promise<Decision> {
    const own = grant !== undefined && grant.viaGroup !== true ? grant : undefined;
    if (!own && groupScopes.length === 0 && user.role !== 'admin') return { kind: 'forbidden' };
    if (!grant) {
      // Admins may use every service, and group members those their groups may: their grant row (and so their
      // pseudonymous token) is made on first use. If two first uses race, the row that landed first is the one
      // both answer with.
      const viaGroup = user.role !== 'admin';
      await this.#store.grants.insertIfAbsent({ ...newGrant(this.#keys, this.#clock.now(), user.id, serviceId, ''), viaGroup });
      grant = await this.#store.grants.find(user.id, serviceId);
    }
    if (!grant) return { kind: 'forbidden' };
    const token = this.#keys.open(grant.tokenSealed, sealContext.grantToken(user.id, serviceId));
    if (token === null) throw new UnreadableSecretError(`grant token for user ${user.id}, service ${serviceId} does not decrypt`);
    const scopeText = [own?.scope ?? '', ...groupScopes].join(',');
    const scope = parseScope(scopeText);
    const identity: Identity = {
      userServiceToken: token,
      ...(scope.has('read:email') ? { email: user.email } : {}),
      ...(scope.has('read:username') && user.username !== null ? { username: user.username } : {}),
      ...(scope.has('read:user-role') ? { role: user.role } : {}),
    };
    return { kind: 'allow', identity };
  }

  async #callerMayVerify(credential: string, serviceToken: StoredTokenHash | undefined): Promise<boolean> {
    if (serviceToken && tokenMatches(credential, serviceToken)) return true;
    // Check every proxy token without stopping early, so timing does not tell which one matched.
    let ok = false;
    for (const proxy of await this.#store.proxyTokens.list()) ok = tokenMatches(credential, proxy.token) || ok;
    return ok;
  }
}

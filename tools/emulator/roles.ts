import { randomUUID } from 'node:crypto';
import { InvalidInputError, isRecord } from './http-util';

/** Built-in role definitions (ids from Azure), reduced to the permissions this emulator checks. */
export const roleDefinitions = {
  'Cognitive Services OpenAI User': {
    id: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd',
    actions: [
      'Microsoft.CognitiveServices/*/read',
      'Microsoft.Authorization/roleAssignments/read',
      'Microsoft.Authorization/roleDefinitions/read',
    ],
    dataActions: [
      'Microsoft.CognitiveServices/accounts/OpenAI/*/read',
      'Microsoft.CognitiveServices/accounts/OpenAI/*/action',
    ],
  },
  Reader: {
    id: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    actions: ['*/read'],
    dataActions: [],
  },
} as const satisfies Record<
  string,
  { id: string; actions: readonly string[]; dataActions: readonly string[] }
>;

export type RoleName = keyof typeof roleDefinitions;
export const roleNames = Object.keys(roleDefinitions) as RoleName[];

/** 'subscription' covers every resource in it; 'account' only the Azure OpenAI account. */
export type RoleScope = 'account' | 'subscription';

export interface RoleAssignmentRequest {
  principalId: string;
  role: RoleName;
  scope: RoleScope;
  /** Seconds before the assignment takes effect; default the emulator's propagationDelaySeconds. */
  delaySeconds?: number;
}

export interface RoleAssignment {
  id: string;
  principalId: string;
  role: RoleName;
  roleDefinitionId: string;
  scope: RoleScope;
  /** The ARM scope string, e.g. `/subscriptions/…/resourceGroups/…/providers/Microsoft.CognitiveServices/accounts/…`. */
  scopeId: string;
  /** ISO time from which the assignment is honoured. */
  effectiveAt: string;
  effective: boolean;
}

export interface Permission {
  kind: 'action' | 'dataAction';
  operation: string;
  /** The scope the operation is performed on. */
  target: RoleScope;
}

export function isRoleName(value: unknown): value is RoleName {
  return typeof value === 'string' && (roleNames as string[]).includes(value);
}

/** Checks an assignment request that arrived as JSON (admin endpoint) or from untyped code. */
export function parseRoleAssignmentRequest(value: unknown): RoleAssignmentRequest {
  if (!isRecord(value)) throw new InvalidInputError('role assignment must be an object');
  const { principalId, role, scope, delaySeconds } = value;
  if (typeof principalId !== 'string' || principalId === '')
    throw new InvalidInputError('principalId must be a non-empty string');
  if (!isRoleName(role)) throw new InvalidInputError(`role must be one of: ${roleNames.join(', ')}`);
  if (scope !== 'account' && scope !== 'subscription')
    throw new InvalidInputError('scope must be account or subscription');
  if (
    delaySeconds !== undefined &&
    (typeof delaySeconds !== 'number' || !Number.isFinite(delaySeconds) || delaySeconds < 0)
  ) {
    throw new InvalidInputError('delaySeconds must be a non-negative number');
  }
  return {
    principalId: principalId.toLowerCase(),
    role,
    scope,
    ...(delaySeconds === undefined ? {} : { delaySeconds }),
  };
}

interface StoredAssignment {
  id: string;
  principalId: string;
  role: RoleName;
  scope: RoleScope;
  effectiveAtMs: number;
}

function matches(pattern: string, operation: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`, 'i');
  return regex.test(operation);
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Role assignments with Azure's propagation delay: an assignment exists at once but is only honoured
 * from `effectiveAt`.
 */
export class RoleStore {
  private assignments: StoredAssignment[] = [];

  constructor(
    private readonly scopeIds: Record<RoleScope, string>,
    private readonly seed: readonly { principalId: string; role: RoleName; scope: RoleScope }[],
    private readonly defaultDelaySeconds: number,
  ) {
    this.reset();
  }

  reset(): void {
    this.assignments = this.seed.map((entry) => ({ ...entry, id: randomUUID(), effectiveAtMs: 0 }));
  }

  assign(request: RoleAssignmentRequest, now = Date.now()): RoleAssignment {
    const delaySeconds = request.delaySeconds ?? this.defaultDelaySeconds;
    const stored: StoredAssignment = {
      id: randomUUID(),
      principalId: request.principalId,
      role: request.role,
      scope: request.scope,
      effectiveAtMs: now + delaySeconds * 1000,
    };
    this.assignments.push(stored);
    return this.describe(stored, now);
  }

  /** Removes the principal's assignments (of one role, or all); removal takes effect at once. */
  remove(principalId: string, role?: RoleName): number {
    const before = this.assignments.length;
    const id = principalId.toLowerCase();
    this.assignments = this.assignments.filter(
      (entry) => entry.principalId !== id || (role !== undefined && entry.role !== role),
    );
    return before - this.assignments.length;
  }

  list(now = Date.now()): RoleAssignment[] {
    return this.assignments.map((entry) => this.describe(entry, now));
  }

  isAllowed(principalId: string, permission: Permission, now = Date.now()): boolean {
    return this.assignments.some((entry) => {
      if (entry.principalId !== principalId.toLowerCase() || entry.effectiveAtMs > now) return false;
      if (entry.scope === 'account' && permission.target === 'subscription') return false;
      const definition = roleDefinitions[entry.role];
      const patterns: readonly string[] =
        permission.kind === 'action' ? definition.actions : definition.dataActions;
      return patterns.some((pattern) => matches(pattern, permission.operation));
    });
  }

  private describe(entry: StoredAssignment, now: number): RoleAssignment {
    return {
      id: entry.id,
      principalId: entry.principalId,
      role: entry.role,
      roleDefinitionId: roleDefinitions[entry.role].id,
      scope: entry.scope,
      scopeId: this.scopeIds[entry.scope],
      effectiveAt: new Date(entry.effectiveAtMs).toISOString(),
      effective: entry.effectiveAtMs <= now,
    };
  }
}

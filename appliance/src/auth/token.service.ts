// API tokens: random secrets shown once, stored only as SHA-256 hashes.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { BOOT_CONFIG, type BootConfig } from '../boot/boot-config.js';
import { Clock } from '../common/clock.js';
import { ConflictError, NotFoundError } from '../common/errors.js';
import { Files } from '../common/files.js';
import { DesiredStateStore, type TokenRecord } from '../desired-state/desired-state.store.js';

export type Role = 'admin' | 'viewer';
export interface Principal {
  name: string;
  role: Role;
}

const TOKEN_PREFIX = 'weft_';

function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

@Injectable()
export class TokenService {
  /** Last-used times are written at most once a minute per token. */
  private readonly touched = new Map<string, number>();

  constructor(
    @Inject(DesiredStateStore) private readonly store: DesiredStateStore,
    @Inject(BOOT_CONFIG) private readonly boot: BootConfig,
    private readonly files: Files,
    private readonly clock: Clock,
    @InjectPinoLogger(TokenService.name) private readonly log: PinoLogger,
  ) {}

  get adminTokenFile(): string {
    return join(this.boot.dataDir, 'admin-token');
  }

  /**
   * First start: no token exists, so one admin token is made, written 0600 into the data directory
   * and returned so the caller prints it once. Later starts return undefined.
   */
  bootstrap(): string | undefined {
    if (this.store.countTokens() > 0) return undefined;
    const { token } = this.create('admin', 'admin');
    this.files.writeSecret(this.adminTokenFile, `${token}\n`);
    this.log.info({ file: this.adminTokenFile }, 'first start: admin token created');
    return token;
  }

  create(name: string, role: Role): { token: string; info: TokenRecord } {
    if (this.store.tokenByName(name))
      throw new ConflictError(`a token named "${name}" exists: revoke it or pick another name`);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const info = this.store.insertToken(name, role, hashToken(token));
    return { token, info };
  }

  authenticate(secret: string): Principal | undefined {
    if (!secret.startsWith(TOKEN_PREFIX)) return undefined;
    // Lookup by hash: the comparison never touches the secret itself, so its timing reveals nothing.
    const rec = this.store.tokenByHash(hashToken(secret));
    if (!rec) return undefined;
    const now = this.clock.now();
    if (now.getTime() - (this.touched.get(rec.name) ?? 0) > 60_000) {
      this.touched.set(rec.name, now.getTime());
      this.store.touchToken(rec.name, now.toISOString());
    }
    return { name: rec.name, role: rec.role };
  }

  list(): TokenRecord[] {
    return this.store.listTokens();
  }

  revoke(name: string): void {
    const rec = this.store.tokenByName(name);
    if (!rec) throw new NotFoundError(`no token named "${name}"`);
    if (rec.role === 'admin' && this.store.countTokens('admin') === 1) {
      throw new ConflictError('this is the last admin token: create another admin token before revoking it');
    }
    this.store.deleteToken(name);
  }
}

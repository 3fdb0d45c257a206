// Per-resource changes (appliance, links, routes): each is one commit of the whole document.
import { Injectable } from '@nestjs/common';
import type { FieldProblem } from '../common/errors.js';
import { ConflictError, InvalidArgumentError, NotFoundError, VerifyFailedError } from '../common/errors.js';
import { ConfigService, type CommitOutcome, type CommitRequest } from './config.service.js';
import type { ApplianceSettings, Link, NormalizedDocument, Route } from './document.js';

type Collection = 'links' | 'routes';
type Item<C extends Collection> = C extends 'links' ? Link : Route;

/** Pointers into the document that are about the edited item become pointers into the request body. */
function rebase(problems: FieldProblem[], prefix: string): FieldProblem[] {
  return problems.map((p) =>
    p.pointer === prefix || p.pointer.startsWith(`${prefix}/`)
      ? { ...p, pointer: p.pointer.slice(prefix.length) }
      : p,
  );
}

@Injectable()
export class ResourceService {
  constructor(private readonly config: ConfigService) {}

  list<C extends Collection>(collection: C): Item<C>[] {
    return this.config.active().document[collection] as Item<C>[];
  }

  get<C extends Collection>(collection: C, name: string): Item<C> {
    const found = (this.config.active().document[collection] as Item<C>[]).find((x) => x.name === name);
    if (!found) throw new NotFoundError(`no ${collection === 'links' ? 'link' : 'route'} named "${name}"`);
    return found;
  }

  /** mode `create`: the name must be new; `put`: create or replace. */
  async upsert<C extends Collection>(
    collection: C,
    item: Item<C>,
    mode: 'create' | 'put',
    req: CommitRequest,
    pathName?: string,
  ): Promise<{ outcome: CommitOutcome; created: boolean }> {
    const what = collection === 'links' ? 'link' : 'route';
    if (pathName !== undefined && item.name !== pathName) {
      throw new InvalidArgumentError(`the body's name "${item.name}" differs from the path's "${pathName}"`, [
        { pointer: '/name', message: `must be "${pathName}", the name in the path` },
      ]);
    }
    let created = false;
    let index = -1;
    try {
      const outcome = await this.config.update(
        (doc: NormalizedDocument) => {
          const list = doc[collection] as Item<C>[];
          index = list.findIndex((x) => x.name === item.name);
          if (index >= 0 && mode === 'create') {
            throw new ConflictError(
              `a ${what} named "${item.name}" exists: use PUT /${collection}/${item.name} to replace it`,
            );
          }
          created = index < 0;
          if (index >= 0) list[index] = item;
          else index = list.push(item) - 1;
        },
        { ...req, message: req.message ?? `${created ? 'create' : 'replace'} ${what} ${item.name}` },
      );
      return { outcome, created };
    } catch (err) {
      if (err instanceof VerifyFailedError && index >= 0) {
        throw new VerifyFailedError(err.message, rebase(err.problems, `/${collection}/${index}`));
      }
      throw err;
    }
  }

  remove(collection: Collection, name: string, req: CommitRequest): Promise<CommitOutcome> {
    const what = collection === 'links' ? 'link' : 'route';
    return this.config.update(
      (doc) => {
        const list = doc[collection] as { name: string }[];
        const i = list.findIndex((x) => x.name === name);
        if (i < 0) throw new NotFoundError(`no ${what} named "${name}"`);
        list.splice(i, 1);
      },
      { ...req, message: req.message ?? `delete ${what} ${name}` },
    );
  }

  putAppliance(settings: ApplianceSettings, req: CommitRequest): Promise<CommitOutcome> {
    return this.config.update(
      (doc) => {
        doc.appliance = settings;
      },
      { ...req, message: req.message ?? 'update appliance settings' },
    );
  }
}

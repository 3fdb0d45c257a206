// A small typed client for one appliance's API. node:http without keep-alive, so a finished test never
// waits on an idle socket.
import { request, type IncomingHttpHeaders } from 'node:http';
import type { paths } from '@weft/api-spec';

/** A path under the API base (`/health`, `/config`, `/links/site-b`); spec paths autocomplete. */
export type ApiPath = keyof paths | (string & {});

export interface ApiRequestOptions {
  /** Bearer token; default the site's admin token. `null` sends no Authorization header. */
  token?: string | null;
  headers?: Record<string, string>;
  /** Default 15 s. */
  timeoutMs?: number;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed when the response is JSON (also problem+json), the raw text otherwise, undefined when empty. */
  body: T;
}

export class ApiClient {
  /**
   * @param baseUrl e.g. `http://198.18.0.10:8080/api/v1`
   * @param defaultToken reads the token to use when the caller gives none (undefined: send none)
   */
  constructor(
    readonly baseUrl: string,
    private readonly defaultToken: () => Promise<string | undefined> = () => Promise.resolve(undefined),
  ) {}

  get<T = unknown>(path: ApiPath, options?: ApiRequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, undefined, options);
  }

  put<T = unknown>(path: ApiPath, body?: unknown, options?: ApiRequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('PUT', path, body, options);
  }

  post<T = unknown>(path: ApiPath, body?: unknown, options?: ApiRequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body, options);
  }

  patch<T = unknown>(path: ApiPath, body?: unknown, options?: ApiRequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('PATCH', path, body, options);
  }

  delete<T = unknown>(path: ApiPath, options?: ApiRequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('DELETE', path, undefined, options);
  }

  async request<T = unknown>(
    method: string,
    path: ApiPath,
    body?: unknown,
    options: ApiRequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const url = new URL(this.baseUrl.replace(/\/$/, '') + (path.startsWith('/') ? path : `/${path}`));
    const token = options.token === undefined ? await this.defaultToken() : options.token;
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    let payload: Buffer | undefined;
    if (body !== undefined) {
      payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (token) headers.authorization = `Bearer ${token}`;
    Object.assign(headers, options.headers);
    const what = `${method} ${url.pathname}${url.search}`;

    return new Promise<ApiResponse<T>>((resolve, reject) => {
      const req = request(
        url,
        { method, headers, agent: false, timeout: options.timeoutMs ?? 15_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(new Error(`${what}: reading the response`, { cause: err })));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text === '' ? undefined : text;
            if (text !== '' && /\bjson\b/i.test(res.headers['content-type'] ?? '')) {
              try {
                parsed = JSON.parse(text);
              } catch (err) {
                reject(new Error(`${what}: answered ${res.statusCode} with invalid JSON`, { cause: err }));
                return;
              }
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer in time')));
      req.on('error', (err) => reject(new Error(`${what} at ${url.host}`, { cause: err })));
      req.end(payload);
    });
  }
}

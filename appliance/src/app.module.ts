// The composition root: adapters, stores, services, controllers, guards and the error filter.
import { join } from 'node:path';
import { Module, RequestMethod, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { loadSpec } from '@weft/api-spec';
import { LoggerModule, PARAMS_PROVIDER_TOKEN, PinoLogger, type Params } from 'nestjs-pino';
import { ConfigController } from './api/config.controller.js';
import { ApplianceController, LinksController, RoutesController } from './api/resources.controller.js';
import { SpecController } from './api/spec.controller.js';
import { StatusController } from './api/status.controller.js';
import { TokensController } from './api/tokens.controller.js';
import { AuthGuard } from './auth/auth.guard.js';
import { TokenService } from './auth/token.service.js';
import { BOOT_CONFIG, type BootConfig } from './boot/boot-config.js';
import { Clock } from './common/clock.js';
import { Files } from './common/files.js';
import { OpenApiValidator } from './common/openapi/index.js';
import { ProblemFilter } from './common/problem.filter.js';
import { ValidationGuard } from './common/validation.guard.js';
import { ConfigService } from './desired-state/config.service.js';
import { DesiredStateStore } from './desired-state/desired-state.store.js';
import { ResourceService } from './desired-state/resource.service.js';
import { createModuleDrivers } from './drivers/drivers.js';
import { EventBus } from './events/event-bus.js';
import { LifecycleService } from './lifecycle.service.js';
import { MODULE_DRIVERS, type ModuleDriver } from './reconciler/module-driver.js';
import { IpsecDriver } from './drivers/ipsec.driver.js';
import { OpenvpnDriver } from './drivers/openvpn.driver.js';
import { WireGuardDriver } from './drivers/wireguard.driver.js';
import { DocumentPresenter } from './api/document.presenter.js';
import { LinkCheckService } from './api/link-check.service.js';
import { PeerConfigService } from './api/peer-config.service.js';
import { Reconciler } from './reconciler/reconciler.js';
import { StatusService } from './status/status.service.js';

/** Secrets that must never reach a log line, wherever they sit in a logged object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.preshared_key',
  '*.private_key',
  '*.psk',
  '*.token',
  '*.*.preshared_key',
  '*.*.private_key',
  '*.local_private_key',
  '*.*.local_private_key',
  'document.links[*].wireguard.preshared_key',
  'document.links[*].ipsec.preshared_key',
  '*.tls_crypt_key',
  '*.*.tls_crypt_key',
  'document.links[*].openvpn.tls_crypt_key',
  'document.links[*].ipsec.local_private_key',
];

@Module({})
export class AppModule {
  static forRoot(boot: BootConfig, overrides: { drivers?: Provider } = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({
          forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
          pinoHttp: {
            level: boot.logLevel,
            redact: { paths: REDACT_PATHS, censor: '[redacted]' },
            autoLogging: { ignore: (req) => req.url === '/api/v1/health' || req.url === '/api/v1/ready' },
            quietReqLogger: true,
          },
        }),
      ],
      controllers: [
        ConfigController,
        ApplianceController,
        LinksController,
        RoutesController,
        StatusController,
        TokensController,
        SpecController,
      ],
      providers: [
        { provide: BOOT_CONFIG, useValue: boot },
        Clock,
        Files,
        {
          provide: DesiredStateStore,
          inject: [Files],
          useFactory: (files: Files) => {
            files.ensureDir(boot.dataDir);
            return DesiredStateStore.open(join(boot.dataDir, 'weft.db'));
          },
        },
        overrides.drivers ?? {
          provide: MODULE_DRIVERS,
          inject: [DesiredStateStore, PARAMS_PROVIDER_TOKEN, EventBus],
          useFactory: (store: DesiredStateStore, params: Params, events: EventBus) =>
            createModuleDrivers(
              boot,
              store,
              new PinoLogger(params),
              new PinoLogger(params),
              new PinoLogger(params),
              new PinoLogger(params),
              (type, data) => events.publish(type, data),
            ),
        },
        {
          provide: WireGuardDriver,
          inject: [MODULE_DRIVERS],
          useFactory: (drivers: ModuleDriver[]) => drivers.find((d) => d instanceof WireGuardDriver),
        },
        {
          provide: IpsecDriver,
          inject: [MODULE_DRIVERS],
          useFactory: (drivers: ModuleDriver[]) => drivers.find((d) => d instanceof IpsecDriver),
        },
        {
          provide: OpenvpnDriver,
          inject: [MODULE_DRIVERS],
          useFactory: (drivers: ModuleDriver[]) => drivers.find((d) => d instanceof OpenvpnDriver),
        },
        DocumentPresenter,
        PeerConfigService,
        LinkCheckService,
        { provide: OpenApiValidator, useFactory: () => new OpenApiValidator(loadSpec()) },
        EventBus,
        Reconciler,
        ConfigService,
        ResourceService,
        StatusService,
        TokenService,
        LifecycleService,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: ValidationGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
      ],
    };
  }
}

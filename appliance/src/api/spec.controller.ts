import { Controller, Get, Header } from '@nestjs/common';
import { loadSpec, type OpenApiDocument } from '@weft/api-spec';
import { Public } from '../auth/auth.decorators.js';
import { renderApiReference } from '../common/openapi/index.js';

/** The contract, served by the appliance itself. Public: it holds no site data. */
@Public()
@Controller()
export class SpecController {
  private page: string | undefined;

  @Get('openapi.json')
  spec(): OpenApiDocument {
    return loadSpec();
  }

  @Get('docs')
  @Header('content-type', 'text/html; charset=utf-8')
  docs(): string {
    this.page ??= renderApiReference(loadSpec());
    return this.page;
  }
}

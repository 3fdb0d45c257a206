import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'weft:public';
export const ADMIN_ONLY = 'weft:admin-only';

/** No token needed (health, the spec, the reference page). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);
/** Admin only, even for reads (tokens). Every non-GET request is admin only anyway. */
export const AdminOnly = (): MethodDecorator & ClassDecorator => SetMetadata(ADMIN_ONLY, true);

export { renderApiReference } from './api-docs.page.js';
export {
  OpenApiValidator,
  type OpenApiValidatorOptions,
  type OperationInfo,
  type OperationMatch,
  type ParameterInfo,
  type ParameterLocation,
  type RequestToValidate,
  type ValidationResult,
} from './openapi-validator.js';
export {
  PROBLEM_CONTENT_TYPE,
  VALIDATION_PROBLEM_TITLE,
  VALIDATION_PROBLEM_TYPE,
  describePointer,
  summarizeErrors,
  validationProblem,
  type ProblemDetails,
  type ProblemError,
} from './problem.js';

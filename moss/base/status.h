// The one error model of ONIX: absl::Status / absl::StatusOr, plus the macros and
// helpers Debian's abseil lacks (status_macros.h is not packaged).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace onix {

// Maps an errno value to a canonical code (ENOENT->NotFound, EEXIST->AlreadyExists,
// EPERM/EACCES->PermissionDenied, ENOSPC/EDQUOT->ResourceExhausted, EINVAL->InvalidArgument,
// EBUSY/EAGAIN->Unavailable, else Internal) with the message "<what>: <strerror>".
// Call it with an errno captured on the line right after the syscall.
absl::Status ErrnoError(int err, std::string_view what);

// Returns `status` with "<context>: " prepended to its message, keeping the code.
// An OK status stays OK. This is ONIX's form of Nix's addTrace / GLNX_AUTO_PREFIX_ERROR:
// chained from the outside in, the message reads "installing foo: writing bar: No space".
absl::Status Annotate(const absl::Status& status, std::string_view context);

// Shorthands that keep call sites short.
inline absl::Status InvalidArgument(std::string_view msg) {
  return absl::InvalidArgumentError(std::string(msg));
}
inline absl::Status NotFound(std::string_view msg) { return absl::NotFoundError(std::string(msg)); }
inline absl::Status FailedPrecondition(std::string_view msg) {
  return absl::FailedPreconditionError(std::string(msg));
}
inline absl::Status DataLoss(std::string_view msg) { return absl::DataLossError(std::string(msg)); }
inline absl::Status Internal(std::string_view msg) { return absl::InternalError(std::string(msg)); }

// The one place a Status becomes text and an exit code (STYLE R4): prints
// "<program>: error: <message>" to stderr and returns 0 for OK, 2 for NotFound and
// InvalidArgument (the input was wrong), 1 for everything else.
int ReportStatus(std::string_view program, const absl::Status& status);

namespace internal_status {
inline absl::Status AsStatus(absl::Status s) { return s; }
template <typename T>
inline absl::Status AsStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace internal_status

}  // namespace onix

#define ONIX_STATUS_CONCAT_INNER_(a, b) a##b
#define ONIX_STATUS_CONCAT_(a, b) ONIX_STATUS_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (a Status or StatusOr) is not OK.
#define ONIX_RETURN_IF_ERROR(expr)                                           \
  do {                                                                       \
    ::absl::Status onix_status_ = ::onix::internal_status::AsStatus((expr)); \
    if (!onix_status_.ok()) return onix_status_;                             \
  } while (false)

// Like ONIX_RETURN_IF_ERROR, but prefixes `context` to the error first.
#define ONIX_RETURN_IF_ERROR_CTX(expr, context)                               \
  do {                                                                        \
    ::absl::Status onix_status_ = ::onix::internal_status::AsStatus((expr));  \
    if (!onix_status_.ok()) return ::onix::Annotate(onix_status_, (context)); \
  } while (false)

#define ONIX_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

// `ONIX_ASSIGN_OR_RETURN(Foo foo, MakeFoo());` declares `foo` or returns the error.
#define ONIX_ASSIGN_OR_RETURN(lhs, expr) \
  ONIX_ASSIGN_OR_RETURN_IMPL_(ONIX_STATUS_CONCAT_(onix_statusor_, __LINE__), lhs, expr)

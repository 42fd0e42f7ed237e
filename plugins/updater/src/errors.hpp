// Errors of the updater as values: a code the CLI can map to a stable JSON key, and a message
// that says what was refused and why. Nothing in this library throws across its API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mesh::updater {

enum class Errc {
  invalid,         // malformed input: a key, a signature file, JSON, a version, a URL
  too_large,       // over a size or count limit
  wrong_key,       // signed by another key than the configured release key
  bad_signature,   // the signature does not verify
  wrong_file,      // a valid signature, but for another file (or version)
  mismatch,        // size or sha256 differ from the release metadata
  rollback,        // older than the highest version installed here
  unsafe_archive,  // an entry that could write outside the tree, or is not allowed
  not_found,       // no release, no asset for this platform, HTTP 404
  network,         // connection refused or dropped, TLS failure, HTTP error status
  timeout,         // no data for too long, or the whole transfer took too long
  cancelled,       // stopped by the caller
  io,              // local file system
};

// Stable lower-case names ("wrong_key"), for JSON and logs.
std::string_view errc_name(Errc code);

struct Error {
  Errc code;
  std::string message;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

// A value or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  explicit operator bool() const { return v_.index() == 0; }
  bool ok() const { return v_.index() == 0; }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}
  static Status ok_status() { return Status(); }

  explicit operator bool() const { return !error_; }
  bool ok() const { return !error_; }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

}  // namespace mesh::updater

// Errors are values inside core: every fallible function returns Result<T>.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mesh {

enum class Errc {
  invalid,      // malformed input or argument
  not_found,    // the thing does not exist
  exists,       // the thing already exists
  limit,        // a size or count limit was hit
  io,           // filesystem or socket failure
  crypto,       // signature, key or TLS failure
  denied,       // authenticated but not allowed
  state,        // not allowed in the current state
  unsupported,  // the other side does not offer this
  internal,     // a bug or an unexpected library failure
};

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

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

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace mesh

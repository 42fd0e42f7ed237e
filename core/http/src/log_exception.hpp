// Internal to mesh_http: what a coroutine's completion handler does with an escaped exception.
#pragma once

#include <spdlog/spdlog.h>

#include <exception>
#include <string_view>

namespace mesh::http::detail {

inline void log_exception(std::string_view what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("http: {} failed: {}", what, ex.what());
  } catch (...) {
    spdlog::error("http: {} failed with an unknown exception", what);
  }
}

}  // namespace mesh::http::detail

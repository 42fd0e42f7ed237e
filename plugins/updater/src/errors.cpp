#include "errors.hpp"

namespace mesh::updater {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::invalid:
      return "invalid";
    case Errc::too_large:
      return "too_large";
    case Errc::wrong_key:
      return "wrong_key";
    case Errc::bad_signature:
      return "bad_signature";
    case Errc::wrong_file:
      return "wrong_file";
    case Errc::mismatch:
      return "mismatch";
    case Errc::rollback:
      return "rollback";
    case Errc::unsafe_archive:
      return "unsafe_archive";
    case Errc::not_found:
      return "not_found";
    case Errc::network:
      return "network";
    case Errc::timeout:
      return "timeout";
    case Errc::cancelled:
      return "cancelled";
    case Errc::io:
      return "io";
  }
  return "unknown";
}

}  // namespace mesh::updater

#include "body_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

namespace mesh::cli {
namespace {

// At most kMaxBodyFileBytes + 1 bytes, so an oversize input is told apart.
bool read_bounded(std::istream& in, std::string* out) {
  out->assign(kMaxBodyFileBytes + 1, '\0');
  in.read(out->data(), static_cast<std::streamsize>(out->size()));
  out->resize(static_cast<std::size_t>(in.gcount()));
  return !in.bad();
}

}  // namespace

bool inline_body_files(std::vector<std::string>& args, std::string* error) {
  bool stdin_used = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    std::string path;
    std::size_t consumed = 1;
    if (args[i] == "--body-file") {
      if (i + 1 >= args.size()) return *error = "--body-file needs a file (or - for stdin)", false;
      path = args[i + 1];
      consumed = 2;
    } else if (args[i].rfind("--body-file=", 0) == 0) {
      path = args[i].substr(12);
    } else {
      continue;
    }
    std::string text;
    if (path == "-") {
      if (stdin_used) return *error = "standard input can be read only once", false;
      stdin_used = true;
      if (!read_bounded(std::cin, &text)) {
        return *error = "--body-file -: cannot read standard input", false;
      }
    } else {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        return *error = "--body-file " + path + ": " + std::strerror(errno), false;
      }
      if (!read_bounded(in, &text))
        return *error = "--body-file " + path + ": cannot be read", false;
    }
    if (text.size() > kMaxBodyFileBytes) {
      *error = "--body-file " + path + " is larger than " + std::to_string(kMaxBodyFileBytes) +
               " bytes (a body holds at most 60 KiB)";
      return false;
    }
    args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
               args.begin() + static_cast<std::ptrdiff_t>(i + consumed));
    args.insert(args.begin() + static_cast<std::ptrdiff_t>(i), {"--body", text});
    ++i;  // past the text
  }
  return true;
}

}  // namespace mesh::cli

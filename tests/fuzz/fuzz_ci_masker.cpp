// libFuzzer target: the secret masker (core/jobs). Input: up to three secrets and a text,
// separated by 0xff bytes, and a chunk size. The output must not depend on how the text is
// chunked, and must equal a simple reference that masks every byte any pattern covers.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "secret_masker.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string reference(const std::vector<std::string>& secrets, const std::string& text) {
  std::vector<char> covered(text.size(), 0);
  for (const auto& s : secrets) {
    for (const auto& p : mesh::jobs::SecretMasker::patterns_for(s)) {
      for (auto at = text.find(p); at != std::string::npos; at = text.find(p, at + 1)) {
        for (std::size_t i = at; i < at + p.size(); ++i) covered[i] = 1;
      }
    }
  }
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!covered[i]) {
      out += text[i];
    } else if (i == 0 || !covered[i - 1]) {
      out += "***";
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::size_t chunk = 1 + data[0] % 16;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= in.size() && parts.size() < 4; ++i) {
    if (i == in.size() || static_cast<unsigned char>(in[i]) == 0xff) {
      parts.emplace_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  std::string text = parts.back();
  if (parts.size() == 4 && start < in.size()) text += std::string(in.substr(start));
  parts.pop_back();
  mesh::jobs::SecretMasker whole(parts);
  std::string want = whole.feed(text);
  want += whole.finish();
  check(want == reference(parts, text));
  mesh::jobs::SecretMasker chunked(parts);
  std::string got;
  for (std::size_t i = 0; i < text.size(); i += chunk) {
    got += chunked.feed(std::string_view(text).substr(i, chunk));
    check(chunked.held() < chunked.longest_pattern() || chunked.longest_pattern() == 0);
  }
  got += chunked.finish();
  check(got == want);
  return 0;
}

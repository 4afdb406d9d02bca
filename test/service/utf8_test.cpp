// UTF-8 validity and repair (service/utf8.hpp), and that the log lines and rules diagnostics
// built from untrusted bytes stay valid UTF-8 (issue 10).

#include "service/utf8.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "service/log.hpp"

namespace ferry::service {
namespace {

TEST(utf8, valid_text_is_kept_byte_for_byte) {
  for (const std::string s : {"", "plain ascii", "caf\xC3\xA9", "\xE2\x82\xAC 10",
                              "\xF0\x9F\x9A\xA2 ferry", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(first_invalid_utf8(s), std::string_view::npos) << s;
    EXPECT_EQ(to_valid_utf8(s), s);
  }
}

TEST(utf8, every_kind_of_invalid_sequence_becomes_a_replacement_character) {
  struct row {
    std::string in;
    std::size_t first_bad;
    std::string out;
  };
  const std::string r = "\xEF\xBF\xBD";
  const row rows[] = {
      {"a\xFF"
       "b",
       1, "a" + r + "b"},                              // never a UTF-8 byte
      {"\xC3", 0, r},                                  // truncated two-byte sequence
      {"\xC0\xAF", 0, r + r},                          // overlong '/'
      {"\xE0\x80\xAF", 0, r + r + r},                  // overlong three-byte form
      {"\xED\xA0\x80", 0, r + r + r},                  // a UTF-16 surrogate
      {"\xF4\x90\x80\x80", 0, r + r + r + r},          // above U+10FFFF
      {"ok\x80", 2, "ok" + r},                         // a lone continuation byte
      {"caf\xE9 latin-1", 3, "caf" + r + " latin-1"},  // Latin-1 text
  };
  for (const auto& row : rows) {
    EXPECT_EQ(first_invalid_utf8(row.in), row.first_bad) << row.in;
    EXPECT_EQ(to_valid_utf8(row.in), row.out) << row.in;
    EXPECT_EQ(first_invalid_utf8(to_valid_utf8(row.in)), std::string_view::npos);
  }
}

std::string log_line(log::format fmt, std::string_view msg, std::string value) {
  std::FILE* f = std::tmpfile();
  {
    log::logger lg(std::make_shared<log::sink>(f, log::level::debug, fmt));
    lg.info(msg, {{"value", std::move(value)}});
  }
  std::rewind(f);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) {
    out.append(buf, n);
  }
  std::fclose(f);
  return out;
}

TEST(utf8, log_lines_stay_valid_utf8_and_one_line) {
  const auto json = log_line(log::format::json, "bad \xFF message", "caf\xE9\nforged");
  EXPECT_EQ(first_invalid_utf8(json), std::string_view::npos) << json;
  EXPECT_NE(json.find("bad \xEF\xBF\xBD message"), std::string::npos) << json;
  EXPECT_NE(json.find("caf\xEF\xBF\xBD\\nforged"), std::string::npos) << json;
  const auto text = log_line(log::format::text, "bad \xFF", "a\nlevel=error forged");
  EXPECT_EQ(first_invalid_utf8(text), std::string_view::npos) << text;
  EXPECT_EQ(text.find('\n'), text.size() - 1) << text;  // the newline in the value is escaped
}

}  // namespace
}  // namespace ferry::service

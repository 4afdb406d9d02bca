#include "service/log.hpp"

#include "service/utf8.hpp"

#include <chrono>
#include <ctime>

namespace ferry::log {
namespace {

const char* level_name(level l) {
  switch (l) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}

void append_timestamp(std::string& out) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = time_point_cast<seconds>(now);
  const auto millis = duration_cast<milliseconds>(now - secs).count();
  const std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  out += buf;
}

}  // namespace

void sink::write_line(std::string_view line) {
  std::lock_guard lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

logger logger::with(std::vector<field> extra) const {
  logger copy = *this;
  for (auto& f : extra) {
    bool replaced = false;
    for (auto& existing : copy.fields_) {
      if (existing.key == f.key) {
        existing.value = std::move(f.value);
        replaced = true;
        break;
      }
    }
    if (!replaced) {
      copy.fields_.push_back(std::move(f));
    }
  }
  return copy;
}

void logger::log(level l, std::string_view msg, std::vector<field> extra) const {
  if (!enabled(l)) {
    return;
  }
  std::string line;
  line.reserve(256);
  if (sink_->line_format() == format::json) {
    line += "{\"ts\":\"";
    append_timestamp(line);
    line += "\",\"level\":\"";
    line += level_name(l);
    line += "\",\"msg\":\"";
    append_json_escaped(line, msg);
    line += '"';
    auto put = [&line](const field& f) {
      line += ",\"";
      append_json_escaped(line, f.key);
      line += "\":\"";
      append_json_escaped(line, f.value);
      line += '"';
    };
    for (const auto& f : fields_) {
      put(f);
    }
    for (const auto& f : extra) {
      put(f);
    }
    line += "}\n";
  } else {
    append_timestamp(line);
    line += ' ';
    line += level_name(l);
    line += ' ';
    // Text is for people, but a newline in a value must not forge a second line either.
    auto put_text = [&line](std::string_view text) {
      for (const char ch : service::to_valid_utf8(text)) {
        if (ch == '\n') {
          line += "\\n";
        } else if (ch == '\r') {
          line += "\\r";
        } else {
          line += ch;
        }
      }
    };
    put_text(msg);
    for (const std::vector<field>* list :
         {&fields_, static_cast<const std::vector<field>*>(&extra)}) {
      for (const auto& f : *list) {
        line += ' ';
        put_text(f.key);
        line += '=';
        put_text(f.value);
      }
    }
    line += '\n';
  }
  sink_->write_line(line);
}

bool parse_level(std::string_view text, level& out) {
  if (text == "debug") {
    out = level::debug;
  } else if (text == "info") {
    out = level::info;
  } else if (text == "warn" || text == "warning") {
    out = level::warn;
  } else if (text == "error") {
    out = level::error;
  } else {
    return false;
  }
  return true;
}

bool parse_format(std::string_view text, format& out) {
  if (text == "json") {
    out = format::json;
  } else if (text == "text") {
    out = format::text;
  } else {
    return false;
  }
  return true;
}

// JSON strings must be UTF-8: an invalid byte (from a rules file, an API answer, a pod log)
// becomes U+FFFD rather than a line no log pipeline can parse.
void append_json_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < text.size();) {
    const auto len = service::utf8_sequence_length(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (len > 1) {
      out.append(text.substr(i, len));
      i += len;
      continue;
    }
    const char ch = text[i++];
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
}

}  // namespace ferry::log

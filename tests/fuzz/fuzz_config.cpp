// libFuzzer driver: arbitrary bytes as a config file.
//
// Properties checked on every input:
//  - load_string returns (never throws, never crashes, never leaks: ASan/LSan/UBSan watch that);
//  - it returns either a config and no error, or errors and no config;
//  - every error formats (format_error) into "file[:line]: [key: ]message", its line lies within
//    the file, and its message is one line of printable text (the loader promises to escape what
//    it echoes from the file);
//  - a returned config holds, for every row of the directive table, a value within that row's
//    bounds and rules (read through the row's slot, independently of the loader), and meets every
//    cross-key rule;
//  - that config, written back as YAML with format_value, loads again without error into an
//    equal config.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <yaml-cpp/exceptions.h>

#include "config/config.hpp"
#include "config/directives.hpp"
#include "config/host_port.hpp"
#include "config/values.hpp"
#include "tests/fuzz/property.hpp"

namespace {

using namespace rtmpt::config;

constexpr std::string_view kFileName = "fuzz.yaml";

[[noreturn]] void fail(const std::string& what) {
    rtmpt::fuzz::property_violated("fuzz_config", what);
}

bool is_tchar(char c) {
    constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSpecials.find(c) != std::string_view::npos;
}

bool all_tchars(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

bool printable_ascii(std::string_view s) {
    for (const char c : s) {
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

// The value of a duration, size or count row, read straight from its slot.
std::uint64_t slot_number(const Directive& d, Config& c) {
    const Slot slot = d.slot(c);
    switch (d.type) {
        case ValueType::duration: {
            const auto ms = std::get<Duration*>(slot)->count();
            REQUIRE(ms >= 0, std::string(d.name) + " is a negative duration");
            return static_cast<std::uint64_t>(ms);
        }
        case ValueType::size:
            return *std::get<std::size_t*>(slot);
        case ValueType::count:
            return *std::get<std::uint32_t*>(slot);
        default:
            fail(std::string(d.name) + " is not numeric");
    }
}

bool is_numeric(ValueType t) {
    return t == ValueType::duration || t == ValueType::size || t == ValueType::count;
}

// A YAML double-quoted scalar holding exactly `s`: config's own escaping is YAML's \x form.
std::string yaml_quoted(std::string_view s) {
    return "\"" + escaped(s) + "\"";
}

void check_host_port(const Directive& d, const HostPort& hp, const std::string& where) {
    REQUIRE(!hp.host.empty(), where + ": empty host");
    REQUIRE(hp.port >= d.min && hp.port <= d.max, where + ": port " + std::to_string(hp.port) + " outside " +
                                                      std::to_string(d.min) + ".." + std::to_string(d.max));
    // Whatever the syntax, the host goes into log lines and getaddrinfo: no control bytes, no spaces.
    for (const char c : hp.host) {
        REQUIRE(c > 0x20 && c < 0x7f,
                where + ": host " + yaml_quoted(hp.host) + " has a control byte or space");
    }
    // The stored address is what the file would have to say to get it: it parses back unchanged.
    const Parsed<HostPort> again = parse_host_port(format_host_port(hp));
    REQUIRE(again.value && *again.value == hp, where + ": " + format_host_port(hp) + " does not parse back");
}

void check_bounds(const Config& config) {
    Config c = config;  // slots hand out mutable pointers
    for (const Directive& d : directives()) {
        const std::string name(d.name);
        // The loader's own accessors must not crash on any stored value.
        const std::string text = format_value(d, config);
        const auto numeric = numeric_value(d, config);
        REQUIRE(numeric.has_value() == is_numeric(d.type),
                name + ": numeric_value disagrees with the row type");
        switch (d.type) {
            case ValueType::duration:
            case ValueType::size:
            case ValueType::count: {
                const std::uint64_t v = slot_number(d, c);
                REQUIRE(v >= d.min && v <= d.max, name + " = " + std::to_string(v) + " outside " +
                                                      std::to_string(d.min) + ".." + std::to_string(d.max));
                REQUIRE(*numeric == v, name + ": numeric_value differs from the slot");
                (void)format_bound(d, v);
                break;
            }
            case ValueType::string: {
                const std::string& s = *std::get<std::string*>(d.slot(c));
                REQUIRE(s.size() >= d.min && s.size() <= d.max,
                        name + ": length " + std::to_string(s.size()) + " outside bounds");
                switch (d.rule) {
                    case StringRule::none:
                        break;
                    case StringRule::printable:
                        REQUIRE(printable_ascii(s), name + ": not printable ASCII");
                        break;
                    case StringRule::mime_type: {
                        const auto slash = s.find('/');
                        REQUIRE(slash != std::string::npos &&
                                    all_tchars(std::string_view(s).substr(0, slash)) &&
                                    all_tchars(std::string_view(s).substr(slash + 1)),
                                name + ": not a type/subtype of token characters");
                        break;
                    }
                    case StringRule::choice:
                        REQUIRE(std::find(d.choices.begin(), d.choices.end(), s) != d.choices.end(),
                                name + ": " + yaml_quoted(s) + " is none of the row's choices");
                        break;
                    case StringRule::node_tag:
                        // It starts session ids, in URLs and load-balancer rules: empty (no tag), or
                        // letters, digits, '-' and '_' only.
                        REQUIRE(std::all_of(s.begin(), s.end(),
                                            [](char ch) {
                                                return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                                       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
                                            }),
                                name + ": not letters, digits, '-' and '_'");
                        break;
                }
                REQUIRE(text == s, name + ": format_value differs from the stored string");
                break;
            }
            case ValueType::host_port:
                check_host_port(d, *std::get<HostPort*>(d.slot(c)), name);
                break;
            case ValueType::host_port_list: {
                const auto& list = *std::get<std::vector<HostPort>*>(d.slot(c));
                // [] only where the table allows it (admin.listen, tls.listen: that listener is off).
                REQUIRE(d.may_be_empty || !list.empty(), name + ": empty list");
                for (std::size_t i = 0; i < list.size(); ++i) {
                    const std::string where = name + "[" + std::to_string(i) + "]";
                    check_host_port(d, list[i], where);
                    for (std::size_t j = 0; j < i; ++j) {
                        REQUIRE(list[i].port == 0 || !same_address(list[i], list[j]),
                                where + ": duplicate of item " + std::to_string(j));
                    }
                }
                break;
            }
            case ValueType::boolean:
                REQUIRE(text == "true" || text == "false",
                        name + ": boolean formats as " + yaml_quoted(text));
                break;
            case ValueType::network_list: {
                const auto& list = *std::get<std::vector<rtmpt::proto::IpNetwork>*>(d.slot(c));
                for (std::size_t i = 0; i < list.size(); ++i) {
                    const std::string where = name + "[" + std::to_string(i) + "]";
                    // The stored network is what the file would have to say to get it.
                    const auto again = rtmpt::proto::IpNetwork::parse(list[i].to_string());
                    REQUIRE(again.network && *again.network == list[i],
                            where + ": " + list[i].to_string() + " does not parse back");
                    for (std::size_t j = 0; j < i; ++j) {
                        REQUIRE(!(list[i] == list[j]), where + ": duplicate of item " + std::to_string(j));
                    }
                }
                break;
            }
            case ValueType::log_level: {
                const LogLevel level = *std::get<LogLevel*>(d.slot(c));
                REQUIRE(level == LogLevel::debug || level == LogLevel::info || level == LogLevel::warn ||
                            level == LogLevel::error,
                        name + ": not a log level");
                REQUIRE(parse_log_level(text) == level, name + ": log level name does not parse back");
                break;
            }
        }
    }
    for (const AtLeast& rule : at_least_rules()) {
        const Directive* big = find_directive(rule.key);
        const Directive* small = find_directive(rule.other);
        REQUIRE(big != nullptr && small != nullptr, "cross-key rule names an unknown key");
        REQUIRE(slot_number(*big, c) >= slot_number(*small, c),
                std::string(rule.key) + " < " + std::string(rule.other));
    }
}

// The config as a file: each key nested under its section, every value quoted.
std::string to_yaml(const Config& config) {
    std::string out;
    std::string_view section;
    for (const Directive& d : directives()) {
        const auto dot = d.name.find('.');
        const std::string_view sect =
            dot == std::string_view::npos ? std::string_view{} : d.name.substr(0, dot);
        const std::string_view leaf = dot == std::string_view::npos ? d.name : d.name.substr(dot + 1);
        if (sect != section && !sect.empty()) out += std::string(sect) + ":\n";
        section = sect;
        const std::string indent = sect.empty() ? "" : "  ";
        out += indent + std::string(leaf) + ":";
        if (d.type == ValueType::host_port_list) {
            Config c = config;
            const auto& list = *std::get<std::vector<HostPort>*>(d.slot(c));
            // An empty list (a listener turned off) as a flow sequence: a block one has no items.
            out += list.empty() ? " []\n" : "\n";
            for (const HostPort& hp : list) {
                out += indent + "  - " + yaml_quoted(format_host_port(hp)) + "\n";
            }
        } else if (d.type == ValueType::network_list) {
            Config c = config;
            out += " [";
            for (const auto& n : *std::get<std::vector<rtmpt::proto::IpNetwork>*>(d.slot(c))) {
                out += yaml_quoted(n.to_string()) + ", ";
            }
            out += "]\n";
        } else {
            out += " " + yaml_quoted(format_value(d, config)) + "\n";
        }
    }
    return out;
}

void check_errors(const LoadResult& result, std::string_view input) {
    std::size_t lines = 1;
    for (const char c : input) lines += c == '\n' ? 1 : 0;
    for (const ConfigError& e : result.errors) {
        const std::string formatted = format_error(e);
        REQUIRE(e.file == kFileName, "error names another file: " + formatted);
        REQUIRE(e.line >= 0 && static_cast<std::size_t>(e.line) <= lines + 1,
                "error line " + std::to_string(e.line) + " beyond the file's " + std::to_string(lines) +
                    " lines: " + formatted);
        REQUIRE(!e.message.empty(), "empty error message: " + formatted);
        REQUIRE(printable_ascii(e.message), "error message is not one printable line: " + formatted);
        // Keys come from the file too: format_error escapes them like the messages.
        REQUIRE(printable_ascii(formatted),
                "formatted error is not one printable line: " + yaml_quoted(formatted));
        REQUIRE(formatted.starts_with(e.file + (e.line > 0 ? ":" + std::to_string(e.line) : std::string()) +
                                      ": "),
                "format_error layout: " + formatted);
        REQUIRE(formatted.ends_with(e.message), "format_error drops the message: " + formatted);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    LoadResult result;
    try {
        result = load_string(input, kFileName);
    } catch (const std::exception& e) {
        fail(std::string("load_string threw: ") + e.what());
    } catch (...) {
        fail("load_string threw a non-std exception");
    }

    // FUZZ_TRACE=1 shows what an input does: its errors, or that it loaded.
    static const bool trace = std::getenv("FUZZ_TRACE") != nullptr;
    if (trace) {
        for (const ConfigError& e : result.errors) std::fprintf(stderr, "%s\n", format_error(e).c_str());
        if (result.config) std::fprintf(stderr, "loaded\n");
    }

    REQUIRE(result.config.has_value() == result.errors.empty(), "config and errors both set, or neither");
    check_errors(result, input);
    if (!result.config) return 0;

    check_bounds(*result.config);

    const std::string yaml = to_yaml(*result.config);
    LoadResult again;
    try {
        again = load_string(yaml, kFileName);
    } catch (const std::exception& e) {
        fail(std::string("load_string threw on a regenerated file: ") + e.what());
    }
    if (!again.config) {
        fail("regenerated file is refused: " +
             (again.errors.empty() ? std::string("?") : format_error(again.errors[0])) + "\n--- file ---\n" +
             yaml);
    }
    REQUIRE(*again.config == *result.config, "regenerated file loads into another config:\n" + yaml);
    return 0;
}

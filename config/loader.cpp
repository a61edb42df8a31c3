// load_string: walks the YAML document against the directive table, collecting every error.
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <exception>
#include <map>
#include <set>
#include <utility>

#include "config/config.hpp"
#include "config/directives.hpp"
#include "config/host_port.hpp"
#include "config/suggest.hpp"
#include "config/values.hpp"
#include "config/yaml_documents.hpp"

namespace rtmpt::config {
namespace {

// yaml-cpp marks are 0-based and -1 when unknown; ConfigError lines are 1-based and 0 when unknown.
[[nodiscard]] int line_of(const YAML::Mark& mark) {
    return mark.line >= 0 ? mark.line + 1 : 0;
}

// A null value ("key:" with nothing after it) is marked where the next token starts, often the
// next line; the key's line is where the user will look.
[[nodiscard]] int value_line(const YAML::Node& key, const YAML::Node& value) {
    const int line = value.IsNull() ? 0 : line_of(value.Mark());
    return line != 0 ? line : line_of(key.Mark());
}

[[nodiscard]] std::string node_kind(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Scalar:
            return "a value";
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

[[nodiscard]] std::string expected(const Directive& d, const YAML::Node& got) {
    std::string message = "expected a " + std::string(type_name(d.type)) + ", got " + node_kind(got);
    if (d.type == ValueType::string && got.IsNull()) message += " (write \"\" for an empty string)";
    return message;
}

// The keys a section may hold, for the message when the section itself has the wrong type.
[[nodiscard]] std::string children_of(std::string_view section) {
    std::vector<std::string_view> children;
    for (const Directive& d : directives()) {
        if (!d.name.starts_with(section) || d.name.size() <= section.size() || d.name[section.size()] != '.')
            continue;
        std::string_view child = d.name.substr(section.size() + 1);
        child = child.substr(0, child.find('.'));
        if (std::find(children.begin(), children.end(), child) == children.end()) children.push_back(child);
    }
    std::string out;
    for (std::string_view child : children) out += (out.empty() ? "" : ", ") + std::string(child);
    return out;
}

class Loader {
  public:
    explicit Loader(std::string file) : file_(std::move(file)) {}

    [[nodiscard]] LoadResult run(std::string_view yaml) {
        try {
            load(yaml);
        } catch (const YAML::DeepRecursion& e) {
            add(line_of(e.mark), "", "invalid YAML: nested too deeply");
        } catch (const YAML::Exception& e) {
            add(line_of(e.mark), "", "invalid YAML: " + escaped(e.msg));
        } catch (const std::exception& e) {
            add(0, "", std::string("cannot load: ") + e.what());
        }
        // Checks run in passes (document, keys, cross-keys); the reader wants them in file order.
        std::stable_sort(errors_.begin(), errors_.end(),
                         [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
        LoadResult result;
        result.errors = std::move(errors_);
        if (result.errors.empty()) result.config = std::move(config_);
        return result;
    }

  private:
    void load(std::string_view yaml) {
        const DocumentScan scan = scan_documents(yaml);
        if (scan.stuck_at) {
            const auto pos = static_cast<std::size_t>(scan.stuck_at->pos);
            add(line_of(*scan.stuck_at), "",
                pos < yaml.size() ? "invalid YAML: unexpected " + quoted(yaml.substr(pos, 1))
                                  : std::string("invalid YAML: unexpected end"));
            return;
        }
        // No document at all: an empty file, or one with only comments. Every key takes its default.
        if (scan.count == 0) return;
        if (scan.second) {
            add(line_of(*scan.second), "", "expected one YAML document, found " + std::to_string(scan.count));
        }
        // Load parses the first document only.
        const YAML::Node root = YAML::Load(std::string(yaml));
        if (root.IsNull()) return;
        if (!root.IsMap()) {
            add(line_of(root.Mark()), "", "expected a map of keys at the top level, got " + node_kind(root));
            return;
        }
        walk(root, "");
        check_cross_keys();
    }

    void add(int line, std::string key, std::string message) {
        errors_.push_back(ConfigError{file_, line, std::move(key), std::move(message)});
    }

    void fail(int line, const std::string& key, std::string message) {
        failed_.insert(key);
        add(line, key, std::move(message));
    }

    void walk(const YAML::Node& map, const std::string& prefix) {
        std::map<std::string, int, std::less<>> seen;  // key -> line, to catch duplicates
        for (const auto& entry : map) {
            const YAML::Node& key = entry.first;
            const YAML::Node& value = entry.second;
            if (!key.IsScalar()) {
                add(line_of(key.Mark()), prefix, "expected a key name, got " + node_kind(key));
                continue;
            }
            const std::string name = prefix.empty() ? key.Scalar() : prefix + "." + key.Scalar();
            const int line = line_of(key.Mark());
            if (const auto [first, inserted] = seen.emplace(key.Scalar(), line); !inserted) {
                fail(line, name, "duplicate key (first at line " + std::to_string(first->second) + ")");
                continue;
            }
            // "backend.address: x" would otherwise be matched as if nested; one spelling keeps files
            // greppable.
            if (key.Scalar().find('.') != std::string::npos) {
                add(line, name, "unknown key (write nested maps, not dotted names)");
                continue;
            }
            if (const Directive* d = find_directive(name)) {
                apply(*d, key, value);
            } else if (is_section(name)) {
                if (value.IsMap()) {
                    walk(value, name);
                } else if (!value.IsNull()) {  // "backend:" with every key commented out is fine
                    fail(line, name,
                         "expected a map of keys (" + children_of(name) + "), got " + node_kind(value));
                }
            } else {
                const auto suggestion = suggest_key(name);
                add(line, name,
                    suggestion ? "unknown key (did you mean " + *suggestion + "?)" : "unknown key");
            }
        }
    }

    void apply(const Directive& d, const YAML::Node& key, const YAML::Node& value) {
        const std::string name(d.name);
        if (is_list(d.type) && value.IsSequence()) {
            if (d.type == ValueType::host_port_list) {
                apply_address_list(d, key, value);
            } else {
                apply_network_list(d, key, value);
            }
        } else if (value.IsScalar()) {
            if (auto error = assign_scalar(d, value.Scalar(), config_)) {
                fail(value_line(key, value), name, std::move(*error));
            }
        } else {
            // A map or list may span many lines; its key is where the intent is written.
            fail(line_of(key.Mark()), name, expected(d, value));
        }
        if (!failed_.contains(name)) set_lines_[name] = line_of(key.Mark());
    }

    void apply_address_list(const Directive& d, const YAML::Node& key, const YAML::Node& list) {
        const std::string name(d.name);
        if (list.size() == 0 && !d.may_be_empty) {
            fail(value_line(key, list), name, "must list at least one address");
            return;
        }
        std::vector<HostPort> items;
        std::vector<int> item_lines;
        bool ok = true;
        std::size_t i = 0;
        for (const YAML::Node& item : list) {
            const std::string item_name = name + "[" + std::to_string(i++) + "]";
            const int line = value_line(key, item);
            if (!item.IsScalar()) {
                add(line, item_name, "expected a host:port, got " + node_kind(item));
                ok = false;
                continue;
            }
            Parsed<HostPort> parsed = parse_address(d, item.Scalar());
            if (!parsed.value) {
                add(line, item_name, std::move(parsed.error));
                ok = false;
                continue;
            }
            // Port 0 is exempt: each such entry gets its own port from the kernel.
            const auto dup = std::find_if(items.begin(), items.end(), [&](const HostPort& hp) {
                return hp.port != 0 && same_address(hp, *parsed.value);
            });
            if (dup != items.end()) {
                const int first_line = item_lines[static_cast<std::size_t>(dup - items.begin())];
                add(line, item_name,
                    "duplicate address " + quoted(item.Scalar()) + " (first at line " +
                        std::to_string(first_line) + ")");
                ok = false;
                continue;
            }
            items.push_back(std::move(*parsed.value));
            item_lines.push_back(line);
        }
        if (ok) {
            assign_list(d, std::move(items), config_);
        } else {
            failed_.insert(name);
        }
    }

    // Networks may be an empty list: "no rule". Duplicates are refused, since the second one is
    // always a mistake of some kind (a typo in the one that was meant).
    void apply_network_list(const Directive& d, const YAML::Node& key, const YAML::Node& list) {
        const std::string name(d.name);
        std::vector<proto::IpNetwork> items;
        std::vector<int> item_lines;
        bool ok = true;
        std::size_t i = 0;
        for (const YAML::Node& item : list) {
            const std::string item_name = name + "[" + std::to_string(i++) + "]";
            const int line = value_line(key, item);
            if (!item.IsScalar()) {
                add(line, item_name, "expected a network, got " + node_kind(item));
                ok = false;
                continue;
            }
            Parsed<proto::IpNetwork> parsed = parse_network(item.Scalar());
            if (!parsed.value) {
                add(line, item_name, std::move(parsed.error));
                ok = false;
                continue;
            }
            const auto dup = std::find(items.begin(), items.end(), *parsed.value);
            if (dup != items.end()) {
                const int first_line = item_lines[static_cast<std::size_t>(dup - items.begin())];
                add(line, item_name,
                    "duplicate network " + parsed.value->to_string() + " (first at line " +
                        std::to_string(first_line) + ")");
                ok = false;
                continue;
            }
            items.push_back(*parsed.value);
            item_lines.push_back(line);
        }
        if (ok) {
            assign_list(d, std::move(items), config_);
        } else {
            failed_.insert(name);
        }
    }

    // A failed key keeps its default; comparing that default with another key would report a
    // second, made-up problem.
    [[nodiscard]] bool failed(std::string_view name) const {
        return std::any_of(failed_.begin(), failed_.end(), [&](const std::string& f) {
            return name == f || (name.starts_with(f) && name.size() > f.size() && name[f.size()] == '.');
        });
    }

    void check_cross_keys() {
        // A TLS listener is useless without its certificate and key: say which one is missing.
        if (!config_.tls.listen.empty() && !failed("tls")) {
            const auto line = set_lines_.find("tls.listen");
            for (const auto& [key, value] : {std::pair{"tls.certificate", &config_.tls.certificate},
                                             std::pair{"tls.key", &config_.tls.key}}) {
                if (!value->empty()) continue;
                add(line != set_lines_.end() ? line->second : 0, key,
                    "is needed when tls.listen names an address");
            }
        }
        for (const AtLeast& rule : at_least_rules()) {
            const Directive* big = find_directive(rule.key);
            const Directive* small = find_directive(rule.other);
            if (big == nullptr || small == nullptr || failed(rule.key) || failed(rule.other)) continue;
            const auto big_value = numeric_value(*big, config_);
            const auto small_value = numeric_value(*small, config_);
            if (!big_value || !small_value || *big_value >= *small_value) continue;
            // Blame the key the user wrote; when only `other` was raised above the default, that is it.
            const auto big_line = set_lines_.find(rule.key);
            if (big_line != set_lines_.end() || !set_lines_.contains(rule.other)) {
                add(big_line != set_lines_.end() ? big_line->second : 0, std::string(rule.key),
                    "must be at least " + std::string(rule.other) + " (" +
                        format_bound(*small, *small_value) + "), got " + format_bound(*big, *big_value) +
                        ": " + std::string(rule.why));
            } else {
                add(set_lines_.find(rule.other)->second, std::string(rule.other),
                    "must be at most " + std::string(rule.key) + " (" + format_bound(*big, *big_value) +
                        "), got " + format_bound(*small, *small_value) + ": " + std::string(rule.why));
            }
        }
    }

    std::string file_;
    Config config_;
    std::vector<ConfigError> errors_;
    std::set<std::string, std::less<>> failed_;          // keys (or sections) whose value was rejected
    std::map<std::string, int, std::less<>> set_lines_;  // keys stored from the file -> line of the key
};

}  // namespace

LoadResult load_string(std::string_view yaml, std::string_view file_name) {
    try {
        return Loader(std::string(file_name)).run(yaml);
    } catch (const std::exception& e) {  // bad_alloc while building messages: still never throw
        LoadResult result;
        result.errors.push_back(
            ConfigError{std::string(file_name), 0, "", std::string("cannot load: ") + e.what()});
        return result;
    }
}

}  // namespace rtmpt::config

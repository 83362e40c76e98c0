#include "pcap_recorder/index/block_query.hpp"

#include <arpa/inet.h>
#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <string>

#include "pcap_recorder/index/packet_keys.hpp"

namespace pcap_recorder::index {

namespace {

using Node = BlockQuery::Node;
using Kind = Node::Kind;

// Thrown inside the parser when the filter leaves the understood subset.
struct NotNarrowable {};

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  const auto flush = [&] {
    if (!current.empty()) tokens.push_back(std::move(current));
    current.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      flush();
    } else if (c == '(' || c == ')' || c == '!') {
      flush();
      tokens.emplace_back(1, c);
    } else if ((c == '&' || c == '|') && i + 1 < text.size() && text[i + 1] == c) {
      flush();
      tokens.push_back(c == '&' ? "and" : "or");
      ++i;
    } else if (std::string_view("[]<>=+*%^&|-").find(c) != std::string_view::npos &&
               !(c == '-' && !current.empty())) {
      throw NotNarrowable{};  // byte expressions, comparisons, arithmetic
    } else {
      current.push_back(c);
    }
  }
  flush();
  return tokens;
}

// Decimal only: libpcap reads a leading 0 as octal and 0x as hex, so neither is narrowed.
std::optional<std::uint32_t> number(const std::string& text, std::uint32_t max) {
  if (text.size() > 1 && text[0] == '0') throw NotNarrowable{};
  std::uint32_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end || value > max) return std::nullopt;
  return value;
}

std::optional<std::uint32_t> protocolNumber(std::string text) {
  if (!text.empty() && text[0] == '\\') text.erase(0, 1);
  static const std::map<std::string, std::uint32_t> kNames = {
      {"icmp", 1}, {"igmp", 2},   {"tcp", 6},   {"udp", 17},   {"gre", 47},   {"esp", 50},
      {"ah", 51},  {"icmp6", 58}, {"pim", 103}, {"vrrp", 112}, {"sctp", 132},
  };
  if (const auto found = kNames.find(text); found != kNames.end()) return found->second;
  return number(text, 255);
}

struct Qualifiers {
  std::string protocol;  // "", ip, ip6, arp, rarp, tcp, udp, sctp
  std::string type;      // host, net, port, portrange, proto
};

class Parser {
 public:
  Parser(std::vector<std::string> tokens, std::vector<Node>& nodes)
      : tokens_(std::move(tokens)), nodes_(nodes) {}

  int parse() {
    const int root = expression();
    if (at_ != tokens_.size()) throw NotNarrowable{};
    return root;
  }

 private:
  const std::string* peek(std::size_t ahead = 0) const {
    return at_ + ahead < tokens_.size() ? &tokens_[at_ + ahead] : nullptr;
  }
  bool accept(const char* word) {
    if (peek() && *peek() == word) {
      ++at_;
      return true;
    }
    return false;
  }
  const std::string& take() {
    if (!peek()) throw NotNarrowable{};
    return tokens_[at_++];
  }

  int add(Node node) {
    node.afterVlan = vlanKeywords_;
    nodes_.push_back(std::move(node));
    return static_cast<int>(nodes_.size()) - 1;
  }
  int binary(Kind kind, int left, int right = -1) {
    Node node;
    node.kind = kind;
    node.left = left;
    node.right = right;
    return add(std::move(node));
  }
  int keys(std::vector<std::uint64_t> hashes) {
    Node node;
    node.kind = Kind::anyKey;
    node.keys = std::move(hashes);
    return add(std::move(node));
  }
  int frameKind(std::uint32_t mask) {
    Node node;
    node.kind = Kind::frameKind;
    node.frameMask = mask;
    return add(std::move(node));
  }

  // libpcap: and/or of equal precedence, left-associative.
  int expression() {
    int left = term();
    for (;;) {
      if (accept("and")) {
        left = binary(Kind::all, left, term());
      } else if (accept("or")) {
        left = binary(Kind::either, left, term());
      } else {
        return left;
      }
    }
  }

  int term() {
    if (accept("not") || accept("!")) return binary(Kind::negation, term());
    if (accept("(")) {
      const int inner = expression();
      if (!accept(")")) throw NotNarrowable{};
      return inner;
    }
    return primitive();
  }

  static bool isDirection(const std::string& word) { return word == "src" || word == "dst"; }
  static bool isType(const std::string& word) {
    return word == "host" || word == "net" || word == "port" || word == "portrange" ||
           word == "proto";
  }
  static bool isProtocolQualifier(const std::string& word) {
    return word == "ip" || word == "ip6" || word == "arp" || word == "rarp" || word == "tcp" ||
           word == "udp" || word == "sctp";
  }

  int primitive() {
    const std::string* word = peek();
    if (!word) throw NotNarrowable{};
    Qualifiers qualifiers;
    bool qualified = false;
    if (isProtocolQualifier(*word) && peek(1) && (isDirection(*peek(1)) || isType(*peek(1)))) {
      qualifiers.protocol = take();
      qualified = true;
    } else if (const auto abbreviation = protocolAbbreviation(*word)) {
      ++at_;
      last_.reset();
      return *abbreviation;
    } else if (*word == "vlan") {
      ++at_;
      return vlan();
    }
    if (peek() && isDirection(*peek())) {
      take();
      // `src or dst host X`, `src and dst host X`: qualifiers, not boolean operators.
      if (peek() && (*peek() == "or" || *peek() == "and") && peek(1) && *peek(1) == "dst") {
        at_ += 2;
      }
      qualifiers.type = "host";
      qualified = true;
    }
    if (peek() && isType(*peek())) {
      qualifiers.type = take();
      qualified = true;
    }
    if (!qualified) {
      // A bare value repeats the qualifiers before it (`host a or b`).
      if (!last_) throw NotNarrowable{};
      qualifiers = *last_;
    }
    last_ = qualifiers;
    return value(qualifiers, take());
  }

  std::optional<int> protocolAbbreviation(const std::string& word) {
    if (word == "ip") return frameKind(kUntaggedIpv4);
    if (word == "ip6") return frameKind(kUntaggedIpv6);
    static const std::map<std::string, std::uint32_t> kProtocols = {
        {"tcp", 6}, {"udp", 17}, {"sctp", 132}, {"icmp", 1}, {"icmp6", 58}, {"igmp", 2},
    };
    if (const auto found = kProtocols.find(word); found != kProtocols.end()) {
      return keys({numberKeyHash(KeyKind::protocol, found->second)});
    }
    return std::nullopt;
  }

  int vlan() {
    last_.reset();
    Node node;
    node.isVlan = true;
    if (peek()) {
      if (const auto id = number(*peek(), 4095)) {
        ++at_;
        node.kind = Kind::anyKey;
        node.keys = {numberKeyHash(KeyKind::vlan, *id)};
      }
    }
    if (node.keys.empty()) {
      node.kind = Kind::frameKind;
      node.frameMask = kTaggedFrame;
    }
    const int index = add(std::move(node));
    ++vlanKeywords_;
    return index;
  }

  int value(const Qualifiers& qualifiers, const std::string& text) {
    const auto& type = qualifiers.type;
    int node;
    if (type == "host") {
      node = host(text);
    } else if (type == "net") {
      node = net(text);
    } else if (type == "port") {
      const auto port = number(text, 65535);
      if (!port) throw NotNarrowable{};
      node = keys({numberKeyHash(KeyKind::port, *port)});
    } else if (type == "portrange") {
      node = portRange(text);
    } else if (type == "proto") {
      if (qualifiers.protocol != "" && qualifiers.protocol != "ip" &&
          qualifiers.protocol != "ip6") {
        throw NotNarrowable{};
      }
      const auto protocol = protocolNumber(text);
      if (!protocol) throw NotNarrowable{};
      return keys({numberKeyHash(KeyKind::protocol, *protocol)});
    } else {
      throw NotNarrowable{};
    }
    const auto& protocol = qualifiers.protocol;
    if (protocol == "tcp" || protocol == "udp" || protocol == "sctp") {
      const auto number = *protocolNumber(protocol);
      return binary(Kind::all, keys({numberKeyHash(KeyKind::protocol, number)}), node);
    }
    return node;
  }

  int host(const std::string& text) {
    in_addr v4;
    in6_addr v6;
    if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
      return keys({ipv4KeyHash(KeyKind::ipv4, ntohl(v4.s_addr))});
    }
    if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
      return keys({keyHash(KeyKind::ipv6, std::span(v6.s6_addr))});
    }
    throw NotNarrowable{};  // a name libpcap resolves
  }

  int net(const std::string& text) {
    std::string address = text;
    std::optional<std::uint32_t> length;
    if (const auto slash = text.find('/'); slash != std::string::npos) {
      address = text.substr(0, slash);
      length = number(text.substr(slash + 1), 128);
      if (!length) throw NotNarrowable{};
    }
    if (address.find(':') != std::string::npos) {
      in6_addr v6;
      if (::inet_pton(AF_INET6, address.c_str(), &v6) != 1) throw NotNarrowable{};
      const std::uint32_t bits = length.value_or(128);
      static constexpr std::array<std::pair<std::uint32_t, KeyKind>, 4> kPrefixes = {{
          {128, KeyKind::ipv6},
          {64, KeyKind::ipv6Prefix64},
          {48, KeyKind::ipv6Prefix48},
          {32, KeyKind::ipv6Prefix32},
      }};
      for (const auto& [prefixBits, kind] : kPrefixes) {
        if (bits < prefixBits) continue;
        std::array<std::uint8_t, 16> prefix{};
        for (std::uint32_t i = 0; i < prefixBits / 8; ++i) prefix[i] = v6.s6_addr[i];
        return keys({keyHash(kind, prefix)});
      }
      throw NotNarrowable{};  // shorter than /32: read every block with IPv6
    }
    // IPv4: dotted, possibly partial (`net 10.1` is 10.1.0.0/16), or with `mask`.
    std::uint32_t value = 0;
    int parts = 0;
    std::size_t start = 0;
    for (;;) {
      const auto dot = address.find('.', start);
      const auto part = number(address.substr(start, dot - start), 255);
      if (!part || parts == 4) throw NotNarrowable{};
      value = value << 8 | *part;
      ++parts;
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    value <<= 8 * (4 - parts);
    std::uint32_t bits = length.value_or(8u * parts);
    if (!length && accept("mask")) {
      in_addr mask;
      if (::inet_pton(AF_INET, take().c_str(), &mask) != 1) throw NotNarrowable{};
      const std::uint32_t m = ntohl(mask.s_addr);
      bits = static_cast<std::uint32_t>(__builtin_popcount(m));
      if (bits != 0 && m != ~std::uint32_t{0} << (32 - bits)) throw NotNarrowable{};
    }
    if (bits > 32) throw NotNarrowable{};
    static constexpr std::array<std::pair<std::uint32_t, KeyKind>, 4> kPrefixes = {{
        {32, KeyKind::ipv4},
        {24, KeyKind::ipv4Prefix24},
        {16, KeyKind::ipv4Prefix16},
        {8, KeyKind::ipv4Prefix8},
    }};
    for (const auto& [prefixBits, kind] : kPrefixes) {
      if (bits < prefixBits) continue;
      const std::uint32_t mask = prefixBits == 32 ? ~0u : ~(~0u >> prefixBits);
      return keys({ipv4KeyHash(kind, value & mask)});
    }
    throw NotNarrowable{};
  }

  int portRange(const std::string& text) {
    const auto dash = text.find('-');
    if (dash == std::string::npos) throw NotNarrowable{};
    const auto low = number(text.substr(0, dash), 65535);
    const auto high = number(text.substr(dash + 1), 65535);
    if (!low || !high) throw NotNarrowable{};
    const auto first = std::min(*low, *high);
    const auto last = std::max(*low, *high);
    if (last - first >= 256) throw NotNarrowable{};
    std::vector<std::uint64_t> hashes;
    for (std::uint32_t port = first; port <= last; ++port) {
      hashes.push_back(numberKeyHash(KeyKind::port, port));
    }
    return keys(std::move(hashes));
  }

  std::vector<std::string> tokens_;
  std::vector<Node>& nodes_;
  std::size_t at_ = 0;
  std::optional<Qualifiers> last_;
  int vlanKeywords_ = 0;
};

void conjuncts(const std::vector<Node>& nodes, int node, std::vector<int>& out) {
  if (nodes[node].kind == Kind::all) {
    conjuncts(nodes, nodes[node].left, out);
    conjuncts(nodes, nodes[node].right, out);
  } else {
    out.push_back(node);
  }
}

// After a `vlan` keyword libpcap reads every later primitive 4 bytes further in. When the first
// `vlan` is a top-level conjunct, a match is a tagged frame, so the later key primitives see its
// inner frame, whose keys the index holds; anything else after a `vlan` becomes "may".
void applyVlanShift(std::vector<Node>& nodes, int root) {
  std::vector<int> top;
  conjuncts(nodes, root, top);
  bool chain = false;
  for (const int node : top) {
    if (nodes[node].isVlan && nodes[node].afterVlan == 0) chain = true;
  }
  for (auto& node : nodes) {
    const bool leaf = node.kind == Kind::anyKey || node.kind == Kind::frameKind;
    if (!leaf || node.afterVlan == 0) continue;
    const bool kept = chain && node.afterVlan == 1 && node.kind == Kind::anyKey;
    if (!kept) {
      node.kind = Kind::unknown;
      node.keys.clear();
    }
  }
}

}  // namespace

BlockQuery::BlockQuery(std::string_view filter) {
  try {
    auto tokens = tokenize(filter);
    if (tokens.empty()) return;
    Parser parser(std::move(tokens), nodes_);
    root_ = parser.parse();
    applyVlanShift(nodes_, root_);
  } catch (const NotNarrowable&) {
    nodes_.clear();
    root_ = -1;
  }
}

bool BlockQuery::mayMatch(const BlockSummary& block) const {
  return root_ < 0 || evaluate(root_, block).may;
}

BlockQuery::Answer BlockQuery::evaluate(int index, const BlockSummary& block) const {
  const Node& node = nodes_[index];
  switch (node.kind) {
    case Kind::all: {
      const auto left = evaluate(node.left, block);
      if (!left.may) return {false, false};
      const auto right = evaluate(node.right, block);
      return {right.may, left.every && right.every};
    }
    case Kind::either: {
      const auto left = evaluate(node.left, block);
      const auto right = evaluate(node.right, block);
      return {left.may || right.may, left.every || right.every};
    }
    case Kind::negation: {
      const auto inner = evaluate(node.left, block);
      return {!inner.every, !inner.may};
    }
    case Kind::anyKey:
      for (const auto key : node.keys) {
        if (block.mayContain(key)) return {true, false};
      }
      return {false, false};
    case Kind::frameKind:
      return {(block.flags & node.frameMask) != 0,
              block.records > 0 && (block.flags & ~node.frameMask) == 0};
    case Kind::unknown:
      break;
  }
  return {true, false};
}

}  // namespace pcap_recorder::index

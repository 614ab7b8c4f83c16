/// What to generate from: a chat in the model's template, or plain text to continue.
public enum Prompt: Sendable, Equatable {
    /// A system message (nil: the template's default) and a user message, rendered with the
    /// ChatML template and ending with the assistant's turn opened.
    case chat(system: String?, user: String)
    /// Text to continue as it is (no template); special-token text is not parsed.
    case text(String)
    /// Token ids as they are.
    case tokens([Int32])
}

/// The ChatML template of SmolLM2 (and other ChatML models), written out: what
/// `tokenizer.chat_template` renders for a system and a user message with
/// `add_generation_prompt`. Its pieces are public for prompts that keep a shared part (the system
/// turn and the opening of the user turn) apart from each request's own.
public enum ChatTemplate {
    /// The system message SmolLM2's template inserts when there is none.
    public static let defaultSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    /// What ends a turn; a model ends its answer with it.
    public static let endOfTurn = "<|im_end|>"

    /// `<|im_start|>role\n`: the opening of a turn.
    public static func open(_ role: String) -> String { "<|im_start|>\(role)\n" }

    /// A whole turn: its opening, the text, and `<|im_end|>\n`.
    public static func turn(_ role: String, _ text: String) -> String { open(role) + text + endOfTurn + "\n" }

    /// `<|im_start|>system\n…<|im_end|>\n<|im_start|>user\n…<|im_end|>\n<|im_start|>assistant\n`.
    public static func render(system: String?, user: String) -> String {
        turn("system", system ?? defaultSystem) + turn("user", user) + open("assistant")
    }
}

extension LanguageModel {
    /// The token ids of `prompt` (special tokens parsed in the template only, never in user text
    /// of a `.text` prompt). A chat's user and system text are tokenized without special-token parsing
    /// so that text such as "<|im_end|>" typed by a user stays text.
    public func tokens(for prompt: Prompt) -> [Int32] {
        switch prompt {
        case let .tokens(ids):
            return ids
        case let .text(text):
            return (tokenizer.addBOS ? tokenizer.bosID.map { [$0] } ?? [] : []) + tokenizer.encode(text, parseSpecial: false)
        case let .chat(system, user):
            guard let start = tokenizer.id(ofSpecial: "<|im_start|>"), let end = tokenizer.id(ofSpecial: "<|im_end|>") else {
                return tokenizer.encode(ChatTemplate.render(system: system, user: user), parseSpecial: true)
            }
            var ids: [Int32] = []
            ids.append(start)
            ids += tokenizer.encode("system\n" + (system ?? ChatTemplate.defaultSystem), parseSpecial: false)
            ids.append(end)
            ids += tokenizer.encode("\n", parseSpecial: false)
            ids.append(start)
            ids += tokenizer.encode("user\n" + user, parseSpecial: false)
            ids.append(end)
            ids += tokenizer.encode("\n", parseSpecial: false)
            ids.append(start)
            ids += tokenizer.encode("assistant\n", parseSpecial: false)
            return ids
        }
    }
}

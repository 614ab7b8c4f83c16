/// How narration runs. The defaults suit the live agent on a small gateway.
public struct NarrationConfiguration: Sendable, Equatable {
    /// Time allowed for the model per alert, counted from when the alert was handed to narration.
    public var deadline: Duration
    /// Token budget of one alert.
    public var maxTokens: Int
    public var promptStyle: PromptStyle
    /// Steer generation: numbers, units and tags only from the facts, each number of the sensor it is said
    /// of, no direction word against the facts, no instruction, repetition or unlisted cause.
    public var constrained: Bool
    /// Vigil writes the start of the alert (`<sensor> on <asset>`) and the model continues it.
    public var forcedStart: Bool
    /// Alerts waiting for the model; beyond this the oldest is dropped (it gets the template).
    public var queueCapacity: Int
    /// After a model narration for an asset, further alerts of that asset within this much event time
    /// get the template: a storm is one narration per asset per cooldown.
    public var cooldown: Duration
    /// Resolved events are narrated by the template unless this is set.
    public var narrateResolved: Bool
    /// The sentence-boundary stop rule (see `CompletionRequest.closeGap`): when the steering refuses the
    /// model's first choice and the best allowed token is this many logits less likely, the alert ends at
    /// the full stop it can take there. Nil: never (the model goes on with the best allowed token).
    public var closeGap: Float?
    /// Backtracking out of dead ends while steering (see `CompletionRequest.maxBacktracks`); 0: none.
    public var backtracks: Int
    /// Events of other sensors of an asset that open within this long of the first-out event's start, while
    /// the incident is open, are followers: their alert carries one text that explains the incident.
    public var incidentWindow: Duration

    public init(
        deadline: Duration = .milliseconds(1500), maxTokens: Int = 72, promptStyle: PromptStyle = .fewShot,
        constrained: Bool = true, forcedStart: Bool = true, queueCapacity: Int = 32, cooldown: Duration = .seconds(60),
        narrateResolved: Bool = false, closeGap: Float? = 0, backtracks: Int = 16,
        incidentWindow: Duration = .seconds(600)
    ) {
        self.deadline = deadline
        self.maxTokens = maxTokens
        self.promptStyle = promptStyle
        self.constrained = constrained
        self.forcedStart = forcedStart
        self.queueCapacity = queueCapacity
        self.cooldown = cooldown
        self.narrateResolved = narrateResolved
        self.closeGap = closeGap
        self.backtracks = backtracks
        self.incidentWindow = incidentWindow
    }
}

namespace Lrml.Reproduction;

/// <summary>
/// How much compute a reproduction spends. <c>quick</c> runs the whole experiment on a laptop in minutes
/// (fewer seeds, capped epochs, the small datasets present); <c>full</c> is the real reproduction (every
/// dataset present, the preset epochs, five seeds) and announces its expected duration before it starts.
/// </summary>
public sealed record Profile
{
    public required string Name { get; init; }

    /// <summary>Run seeds per configuration.</summary>
    public required int Seeds { get; init; }

    /// <summary>Cap on epochs per run (null = the preset's epochs).</summary>
    public int? MaxEpochs { get; init; }

    /// <summary>Early-stopping patience.</summary>
    public int Patience { get; init; } = 5;

    /// <summary>Datasets larger than this many interactions are skipped unless named explicitly.</summary>
    public long MaxInteractions { get; init; } = long.MaxValue;

    /// <summary>Minutes on two cores: two seeds, at most 15 epochs, datasets of up to 200,000 interactions (ML-100K;
    /// ML-1M and larger only when named explicitly: the NCF-family baselines take 5–15 s per ML-1M epoch on two cores).
    /// Most models are still improving at 15 epochs (the tuned ML-100K runs peak at 20–40), so quick numbers understate
    /// them, LRML with its tuned learning rate of 5e-4 the most; the reports say so when it happens.</summary>
    public static readonly Profile Quick = new() { Name = "quick", Seeds = 2, MaxEpochs = 15, Patience = 3, MaxInteractions = 200_000 };

    /// <summary>The real reproduction: five seeds, the presets' epochs, every dataset present.</summary>
    public static readonly Profile Full = new() { Name = "full", Seeds = 5, Patience = 5 };

    /// <summary>The profile of a name ("quick" or "full").</summary>
    public static Profile Get(string name) => name.ToLowerInvariant() switch
    {
        "quick" => Quick,
        "full" => Full,
        _ => throw new ArgumentException($"Unknown profile '{name}'. Known: quick, full."),
    };
}

namespace Lrml.Models;

/// <summary>
/// Anything that ranks items for users. Scores follow one convention across the kit: higher means
/// ranked higher (LRML and CML return the negated distance).
/// </summary>
public interface IRecommender : IDisposable
{
    /// <summary>Display name, e.g. "LRML".</summary>
    string Name { get; }

    int NumUsers { get; }
    int NumItems { get; }

    /// <summary>Scores the pairs (users[k], items[k]) into scores[k].</summary>
    void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores);

    /// <summary>
    /// Scores every item for each given user: <paramref name="scores"/> is row-major
    /// users.Length × NumItems. The evaluator calls it on chunks of users so memory stays bounded.
    /// </summary>
    void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores);
}

/// <summary>
/// One mini-batch of training examples. For pairwise models each positive (Users[b], Positives[b]) is
/// paired with Negatives[b * NegativesPerPositive + j]; pointwise models treat positives as label 1 and
/// every negative (same user) as label 0.
/// </summary>
public sealed class TrainingBatch
{
    public int[] Users { get; }
    public int[] Positives { get; }
    public int[] Negatives { get; }
    public int NegativesPerPositive { get; }

    /// <summary>Number of valid positives in the (possibly larger, reused) arrays.</summary>
    public int Count { get; set; }

    public TrainingBatch(int capacity, int negativesPerPositive)
    {
        if (negativesPerPositive < 1) throw new ArgumentOutOfRangeException(nameof(negativesPerPositive));
        long negatives = (long)capacity * negativesPerPositive;
        if (negatives > Array.MaxLength)
            throw new ArgumentException($"A batch of {capacity:N0} positives with {negativesPerPositive:N0} negatives each needs {negatives:N0} negatives, " +
                                        $"more than an array holds ({Array.MaxLength:N0}): lower the batch size or the negatives.");
        Users = new int[capacity]; Positives = new int[capacity];
        Negatives = new int[negatives];
        NegativesPerPositive = negativesPerPositive;
    }

    public int Capacity => Users.Length;
}

/// <summary>A model the <see cref="Training.Trainer"/> can fit.</summary>
public interface ITrainableRecommender : IRecommender
{
    /// <summary>One optimiser step on a batch. Returns the batch's loss (summed over examples, as the
    /// model's loss is defined) for logging.</summary>
    double TrainStep(TrainingBatch batch);

    /// <summary>Called by the trainer at the end of every epoch (e.g. to project stored rows).</summary>
    void EndEpoch(int epoch) { }

    /// <summary>Copies all trainable state (parameters and optimiser state) to a byte array.</summary>
    byte[] SaveState();

    /// <summary>Restores state produced by <see cref="SaveState"/> on a model of the same configuration.</summary>
    void LoadState(byte[] state);

    /// <summary>The effective configuration, for result records.</summary>
    IReadOnlyDictionary<string, object?> Describe();

    /// <summary>Whether every trainable parameter is finite (no NaN, no ±∞). The trainer checks it before every
    /// checkpoint and validation, so a diverged model is never saved; the default (true) is for models without
    /// parameters to check.</summary>
    bool ParametersAreFinite() => true;

    /// <summary>The largest absolute value of any trainable parameter (not the optimiser state): NaN when a parameter is
    /// NaN, +∞ when one is infinite. The trainer compares it with its value at initialisation to catch parameters that
    /// explode while staying finite (see <see cref="Training.DivergenceRules"/>). The default, for models without
    /// parameters to check, derives from <see cref="ParametersAreFinite"/> (0 when finite: no explosion is seen).</summary>
    double MaxAbsParameter() => ParametersAreFinite() ? 0 : double.NaN;
}

using System.Text.Json.Nodes;
using Lrml.Protocols;

namespace Lrml.Models;

/// <summary>
/// Most-popular baseline: the score of item i (for every user) is the number of training interactions of i,
/// i.e. the number of distinct training users who have i (<see cref="UserItems"/> merges duplicate pairs).
/// Non-personalised, so it is fitted once (<see cref="Fit"/>) and has no training step.
/// </summary>
/// <remarks>
/// Many items share a count, and this model does not break ties: equal counts give equal scores, and the
/// evaluator's pessimistic rule applies (a held-out item ranks after every candidate with an equal score), so
/// popularity is never credited for a lucky tie order. Counts are exact in float32 up to 2²⁴.
/// </remarks>
public sealed class PopularityModel : IRecommender
{
    /// <summary>The registry entry "pop": fitted once from the training split, no settings and no training step.</summary>
    internal static ModelEntry Entry { get; } = new("pop", "Popularity", "Item popularity in the training split (non-personalised baseline).",
        ["none"], c =>
        {
            if (c.Settings.Count > 0) throw new ArgumentException("The popularity model has no settings.");
            return new BuiltModel(Fit(c.Train), "none", new JsonObject());
        }, () => new JsonObject());

    private readonly int[] _counts;
    private readonly float[] _scores;

    private PopularityModel(int numUsers, int[] counts)
    {
        NumUsers = numUsers;
        _counts = counts;
        _scores = new float[counts.Length];
        for (int i = 0; i < counts.Length; i++) _scores[i] = counts[i];
    }

    /// <summary>Counts each item's training interactions.</summary>
    public static PopularityModel Fit(UserItems train)
    {
        ArgumentNullException.ThrowIfNull(train);
        var counts = new int[train.NumItems];
        var items = train.Items;
        for (int k = 0; k < items.Length; k++) counts[items[k]]++;
        return new PopularityModel(train.NumUsers, counts);
    }

    /// <inheritdoc/>
    public string Name => "Popularity";
    /// <inheritdoc/>
    public int NumUsers { get; }
    /// <inheritdoc/>
    public int NumItems => _counts.Length;

    /// <summary>Training interaction count per item.</summary>
    public ReadOnlySpan<int> Counts => _counts;

    /// <inheritdoc/>
    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        if (users.Length != items.Length || scores.Length != users.Length)
            throw new ArgumentException($"users ({users.Length}), items ({items.Length}) and scores ({scores.Length}) must have equal length.");
        TorchSupport.CheckRange(users, NumUsers, "user");
        TorchSupport.CheckRange(items, NumItems, "item");
        for (int k = 0; k < items.Length; k++) scores[k] = _scores[items[k]];
    }

    /// <inheritdoc/>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
    {
        if (scores.Length != (long)users.Length * NumItems)
            throw new ArgumentException($"scores must hold users.Length × NumItems = {(long)users.Length * NumItems} values (got {scores.Length}).");
        TorchSupport.CheckRange(users, NumUsers, "user");
        for (int u = 0; u < users.Length; u++) _scores.CopyTo(scores.Slice(u * NumItems, NumItems));
    }

    /// <inheritdoc/>
    public void Dispose() { }
}

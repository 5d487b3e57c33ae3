using Lrml.Data;
using Lrml.Util;

namespace Lrml.Protocols;

/// <summary>
/// Leave-one-out without time: per user, one uniformly random distinct item is the test item and, when
/// validation is held out, a second one (drawn from the remaining items) the validation item. Seeded through
/// the stream <c>"split/random-leave-one-out"</c>; users are visited in index order, so a seed fixes the split.
/// Repeated (user, item) pairs are merged first. Users with fewer than 2 distinct items stay in train only,
/// users with exactly 2 get no validation item (both counted in <see cref="Split.Notes"/>).
/// </summary>
internal static class RandomLeaveOneOut
{
    /// <summary>Protocol name stored in <see cref="Split.Protocol"/>.</summary>
    public const string ProtocolName = "random-leave-one-out";

    /// <summary>Splits with default options.</summary>
    public static Split Build(Interactions data, long seed) => Build(data, new RandomLeaveOneOutOptions(), seed);

    /// <summary>Splits <paramref name="data"/>; <paramref name="seed"/> seeds the held-out choice and the candidates.</summary>
    public static Split Build(Interactions data, RandomLeaveOneOutOptions options, long seed)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        var seq = UserSequences.Build(data, time: null);
        var rng = new Rng(seed, "split/" + ProtocolName);
        return SplitBuilding.LeaveOneOutPerUser(data, seq, ProtocolName, seed, options, options.HoldOutValidation,
            (n, withValidation) =>
            {
                int t = rng.NextInt(n);
                if (!withValidation) return (t, -1);
                int v = rng.NextInt(n - 1);                 // uniform over the other n - 1 positions
                return (t, v >= t ? v + 1 : v);
            },
            new Dictionary<string, string>());
    }
}

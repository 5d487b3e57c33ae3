using Lrml.Data;

namespace Lrml.Protocols;

/// <summary>
/// Builds a split from a protocol name, for command lines and configuration files. Names:
/// <c>leave-last-out</c>, <c>random-leave-one-out</c>, <c>ratio</c>, <c>global-temporal</c>, <c>ncf</c>.
/// Each protocol's own class (<see cref="LeaveLastOut"/>, …) exposes the full options.
/// </summary>
internal static class SplitFactory
{
    /// <summary>The protocol names <see cref="Build"/> accepts.</summary>
    public static IReadOnlyList<string> Protocols { get; } =
        [LeaveLastOut.ProtocolName, RandomLeaveOneOut.ProtocolName, RatioSplit.ProtocolName, GlobalTemporal.ProtocolName, NcfPublic.ProtocolName];

    /// <summary>
    /// Builds <paramref name="protocol"/> on <paramref name="data"/> with default options except the number of
    /// frozen sampled negatives. <paramref name="ncfDirectory"/> is required for <c>ncf</c> (the folder with
    /// <c>ml-1m.test.rating</c> and <c>ml-1m.test.negative</c>). <paramref name="fileOrderWhenNoTimestamps"/> lets the
    /// temporal protocols use file order on datasets without timestamps (e.g. the ML-1M copy without ratings.dat).
    /// </summary>
    public static Split Build(string protocol, Interactions data, long seed, int sampledNegatives = 99,
        string? ncfDirectory = null, bool fileOrderWhenNoTimestamps = false)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        return protocol.ToLowerInvariant() switch
        {
            LeaveLastOut.ProtocolName => LeaveLastOut.Build(data,
                new LeaveLastOutOptions { SampledNegatives = sampledNegatives, FileOrderWhenNoTimestamps = fileOrderWhenNoTimestamps }, seed),
            RandomLeaveOneOut.ProtocolName => RandomLeaveOneOut.Build(data, new RandomLeaveOneOutOptions { SampledNegatives = sampledNegatives }, seed),
            RatioSplit.ProtocolName => RatioSplit.Build(data, new RatioSplitOptions { SampledNegatives = sampledNegatives }, seed),
            GlobalTemporal.ProtocolName => GlobalTemporal.Build(data,
                new GlobalTemporalOptions { SampledNegatives = sampledNegatives, FileOrderWhenNoTimestamps = fileOrderWhenNoTimestamps }, seed),
            NcfPublic.ProtocolName => NcfPublic.Build(data,
                ncfDirectory ?? throw new ArgumentException("The ncf protocol needs the directory of the published NCF files.", nameof(ncfDirectory)),
                new NcfPublicOptions { SampledNegatives = sampledNegatives }, seed),
            _ => throw new ArgumentException($"Unknown protocol '{protocol}'. Known: {string.Join(", ", Protocols)}.", nameof(protocol)),
        };
    }
}

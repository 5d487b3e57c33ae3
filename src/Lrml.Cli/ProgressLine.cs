using System.Globalization;
using Lrml.Training;

namespace Lrml.Cli;

/// <summary>
/// Throughput and time left within an epoch, measured between progress reports. The trainer's first report of an
/// epoch comes after several batches whose time this observer never saw, so the rate is taken from the second
/// report on (examples and seconds since the first one), never from a count over a clock started too late.
/// </summary>
internal sealed class EpochRate
{
    private int _epoch = -1;
    private double _t0;
    private int _seen0, _step0;

    /// <summary>Examples per second and seconds left in the epoch; both null until two reports of the epoch came.</summary>
    public (double? Rate, double? EtaSeconds) Update(TrainProgress p, double nowSeconds)
    {
        if (p.Epoch != _epoch || p.Seen < _seen0)
        {
            _epoch = p.Epoch; _t0 = nowSeconds; _seen0 = p.Seen; _step0 = p.Step;
            return (null, null);
        }
        double dt = nowSeconds - _t0;
        if (dt <= 0 || p.Seen == _seen0) return (null, null);
        double rate = (p.Seen - _seen0) / dt;
        double secondsPerStep = dt / Math.Max(1, p.Step - _step0);
        return (rate, Math.Max(0, p.StepsPerEpoch - p.Step) * secondsPerStep);
    }
}

/// <summary>The one-line progress display of an epoch.</summary>
internal static class ProgressLine
{
    public static string Format(TrainProgress p, double? rate, double? etaSeconds, int width = 30)
    {
        int filled = (int)Math.Round(width * (double)p.Step / Math.Max(1, p.StepsPerEpoch));
        filled = Math.Clamp(filled, 0, width);
        string bar = new string('█', filled) + new string('░', width - filled);
        var ci = CultureInfo.InvariantCulture;
        string speed = rate is { } r ? FormatRate(r) + " triples/s" : "measuring…";
        string eta = etaSeconds is { } e ? "  ETA " + FormatDuration(e) : "";
        return string.Create(ci, $"  epoch {p.Epoch,3}/{p.MaxEpochs}  {bar}  {p.Step}/{p.StepsPerEpoch}  loss/ex {p.LossSoFar / Math.Max(1, p.Seen):F4}  {speed}{eta}");
    }

    /// <summary>1234 → "1.2k", 2_500_000 → "2.50M".</summary>
    public static string FormatRate(double perSecond) => perSecond switch
    {
        >= 1e6 => (perSecond / 1e6).ToString("F2", CultureInfo.InvariantCulture) + "M",
        >= 1e3 => (perSecond / 1e3).ToString("F1", CultureInfo.InvariantCulture) + "k",
        _ => perSecond.ToString("F0", CultureInfo.InvariantCulture),
    };

    /// <summary>Seconds as "42s", "3m05s" or "1h02m".</summary>
    public static string FormatDuration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Ceiling(seconds)); // never promise less time than is left
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m"
             : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:00}s"
             : $"{t.Seconds}s";
    }
}

using System.Globalization;
using System.Text;
using Lrml.Util;

using Lrml.Models;

namespace Lrml.Reproduction.Sweeps;

/// <summary>How a dimension of a search space draws its values.</summary>
public enum DimensionKind
{
    /// <summary>A list of values: enumerated by grid search, drawn uniformly by random search (choice).</summary>
    Values,
    /// <summary>Uniform over [Low, High] (random search only).</summary>
    Uniform,
    /// <summary>Log-uniform over [Low, High], both &gt; 0 (random search only).</summary>
    LogUniform,
}

/// <summary>One setting of a search space: a value list or a distribution.</summary>
/// <param name="Key">Setting name, e.g. "learning_rate" (model setting) or "batch_size" (trainer setting).</param>
/// <param name="Kind">Value list or distribution.</param>
/// <param name="Values">The values (as setting text) for <see cref="DimensionKind.Values"/>.</param>
/// <param name="Low">Lower bound of a distribution.</param>
/// <param name="High">Upper bound of a distribution.</param>
public sealed record Dimension(string Key, DimensionKind Kind, IReadOnlyList<string> Values, double Low = 0, double High = 0)
{
    /// <summary>
    /// Parses "key=v1,v2,…" (values; list-valued settings in brackets: "layers=[64,32,16,8],[32,16,8]"),
    /// "key=choice(v1,v2)", "key=uniform(a,b)" or "key=loguniform(a,b)".
    /// </summary>
    public static Dimension Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int eq = text.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"Search dimension '{text}' is not of the form key=values.");
        string key = text[..eq].Trim(), body = text[(eq + 1)..].Trim();
        if (body.Length == 0) throw new ArgumentException($"Search dimension '{key}' has no values.");
        foreach (var (prefix, kind) in new[] { ("loguniform(", DimensionKind.LogUniform), ("uniform(", DimensionKind.Uniform), ("choice(", DimensionKind.Values) })
        {
            if (!body.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) continue;
            if (!body.EndsWith(')')) throw new ArgumentException($"Search dimension '{key}': '{body}' lacks its closing parenthesis.");
            var args = SplitTopLevel(body[prefix.Length..^1]);
            if (kind == DimensionKind.Values) return FromValues(key, args);
            if (args.Count != 2 || !TryNumber(args[0], out double lo) || !TryNumber(args[1], out double hi) || !(lo < hi))
                throw new ArgumentException($"Search dimension '{key}': {prefix}low,high) needs two numbers with low < high (got '{body}').");
            if (kind == DimensionKind.LogUniform && !(lo > 0)) throw new ArgumentException($"Search dimension '{key}': loguniform needs low > 0.");
            return new Dimension(key, kind, [], lo, hi);
        }
        return FromValues(key, SplitTopLevel(body));
    }

    private static Dimension FromValues(string key, List<string> values)
    {
        if (values.Count == 0 || values.Any(v => v.Length == 0)) throw new ArgumentException($"Search dimension '{key}' has an empty value.");
        if (values.Distinct(StringComparer.Ordinal).Count() != values.Count) throw new ArgumentException($"Search dimension '{key}' lists a value twice.");
        return new Dimension(key, DimensionKind.Values, values);
    }

    /// <summary>A fixed setting (one value).</summary>
    public static Dimension Fixed(string key, string value) => new(key, DimensionKind.Values, [value]);

    /// <summary>Splits at commas outside brackets and parentheses, trimming each part.</summary>
    public static List<string> SplitTopLevel(string text)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int x = 0; x < text.Length; x++)
        {
            char ch = text[x];
            if (ch is '[' or '(') depth++;
            else if (ch is ']' or ')') depth--;
            else if (ch == ',' && depth == 0) { parts.Add(text[start..x].Trim()); start = x + 1; }
        }
        parts.Add(text[start..].Trim());
        return parts;
    }

    private static bool TryNumber(string s, out double v) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out v);

    /// <summary>Draws one value (as setting text) for random search.</summary>
    internal string Draw(Rng rng) => Kind switch
    {
        DimensionKind.Values => Values[rng.NextInt(Values.Count)],
        DimensionKind.Uniform => Format(Low + (High - Low) * rng.NextDouble()),
        DimensionKind.LogUniform => Format(Math.Exp(Math.Log(Low) + (Math.Log(High) - Math.Log(Low)) * rng.NextDouble())),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Numbers drawn from distributions keep 3 significant digits, so configs stay readable and comparable.</summary>
    public static string Format(double v) => double.Parse(v.ToString("G3", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The dimension as it would be written on the command line.</summary>
    public override string ToString() => Kind switch
    {
        DimensionKind.Values => $"{Key}={string.Join(",", Values)}",
        DimensionKind.Uniform => string.Create(CultureInfo.InvariantCulture, $"{Key}=uniform({Low},{High})"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Key}=loguniform({Low},{High})"),
    };
}

/// <summary>A search space: settings (model or trainer) and their value lists or distributions, in declared order.</summary>
public sealed class SearchSpace
{
    private readonly List<Dimension> _dims = new();

    /// <summary>An empty space (one trial with the defaults).</summary>
    public SearchSpace() { }

    /// <summary>A space from dimensions; a key may appear once.</summary>
    public SearchSpace(IEnumerable<Dimension> dims) { foreach (var d in dims) Add(d); }

    /// <summary>Parses "key=…" strings (see <see cref="Dimension.Parse"/>).</summary>
    public static SearchSpace Parse(IEnumerable<string> dims) => new(dims.Select(Dimension.Parse));

    /// <summary>The dimensions in declared order.</summary>
    public IReadOnlyList<Dimension> Dimensions => _dims;

    /// <summary>Adds a dimension, replacing one with the same (normalised) key.</summary>
    public SearchSpace Add(Dimension d)
    {
        _dims.RemoveAll(x => ConfigBinder.Normalise(x.Key) == ConfigBinder.Normalise(d.Key));
        _dims.Add(d);
        return this;
    }

    /// <summary>Number of grid points (product of the value-list sizes); throws when a dimension is a distribution.</summary>
    public long GridSize()
    {
        long n = 1;
        foreach (var d in _dims)
        {
            if (d.Kind != DimensionKind.Values)
                throw new ArgumentException($"Grid search needs value lists, but '{d}' is a distribution: use random search, or list values.");
            n = checked(n * d.Values.Count);
        }
        return n;
    }

    /// <summary>
    /// The trial configurations of a search with a budget of <paramref name="budget"/> trials, deterministic for a seed:
    /// grid search keeps the whole grid or, when the grid is larger than the budget, a seeded uniform subset of
    /// <paramref name="budget"/> points, and lists them in a seeded random order, so that every prefix of the list is itself a
    /// uniform sample of the grid (in declared order, last key fastest, the first half of a search would be the grid's first
    /// values only, and a search curve doubled once would measure the grid's order, not the budget); random search draws
    /// configurations independently, skipping repeats (at most 50·budget draws).
    /// </summary>
    public List<IReadOnlyList<KeyValuePair<string, string>>> Trials(SearchKind kind, int budget, long seed)
    {
        if (budget < 1) throw new ArgumentException($"The trial budget must be ≥ 1 (got {budget}).");
        var result = new List<IReadOnlyList<KeyValuePair<string, string>>>();
        if (kind == SearchKind.Grid)
        {
            long size = GridSize();
            var chosen = new List<long>();
            if (size <= budget) for (long x = 0; x < size; x++) chosen.Add(x);
            else
            {
                // Floyd's sampling of `budget` distinct indices (then shuffled below)
                var rng = new Rng(seed, "sweep.grid");
                var set = new HashSet<long>();
                for (long j = size - budget; j < size; j++)
                {
                    long t = (long)(rng.NextDouble() * (j + 1));
                    if (t > j) t = j;
                    set.Add(set.Contains(t) ? j : t);
                }
                chosen.AddRange(set.Order());
            }
            new Rng(seed, "sweep.grid.order").Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chosen));
            foreach (long index in chosen) result.Add(GridPoint(index));
            return result;
        }
        var draw = new Rng(seed, "sweep.random");
        var seen = new HashSet<string>();
        for (int attempt = 0; attempt < 50 * budget && result.Count < budget; attempt++)
        {
            var cfg = _dims.Select(d => new KeyValuePair<string, string>(d.Key, d.Draw(draw))).ToList();
            if (seen.Add(Key(cfg))) result.Add(cfg);
        }
        return result;
    }

    private List<KeyValuePair<string, string>> GridPoint(long index)
    {
        var cfg = new KeyValuePair<string, string>[_dims.Count];
        for (int d = _dims.Count - 1; d >= 0; d--)
        {
            int n = _dims[d].Values.Count;
            cfg[d] = new(_dims[d].Key, _dims[d].Values[(int)(index % n)]);
            index /= n;
        }
        return cfg.ToList();
    }

    /// <summary>Canonical text of a configuration ("k=v;k=v" in the given order), the identity of a trial.</summary>
    public static string Key(IEnumerable<KeyValuePair<string, string>> cfg)
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in cfg) { if (sb.Length > 0) sb.Append(';'); sb.Append(k).Append('=').Append(v); }
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => string.Join("  ", _dims);
}

/// <summary>Grid or random search.</summary>
public enum SearchKind
{
    /// <summary>Every grid point (a seeded subset when the grid exceeds the budget), in a seeded random order.</summary>
    Grid,
    /// <summary>Independent random draws from the dimensions.</summary>
    Random,
}

using System.Globalization;

namespace Lrml.Reproduction;

/// <summary>One cell of the paper's tables that is known.</summary>
internal sealed record PaperCell(string Dataset, string Model, string Metric, double Value, bool Approximate, string Source);

/// <summary>
/// The numbers known to belong to the LRML paper's tables, read from the embedded data file
/// paper-numbers.csv. Unknown cells are absent (never invented): <see cref="Get"/> returns null for them.
/// </summary>
internal static class PaperNumbers
{
    private static readonly Lazy<IReadOnlyList<PaperCell>> Cells = new(Load);

    /// <summary>Every known cell.</summary>
    public static IReadOnlyList<PaperCell> All => Cells.Value;

    /// <summary>A known cell, or null when the paper's value is unknown here.</summary>
    public static PaperCell? Get(string dataset, string model, string metric) =>
        All.FirstOrDefault(c => string.Equals(c.Dataset, dataset, StringComparison.OrdinalIgnoreCase)
                             && string.Equals(c.Model, model, StringComparison.OrdinalIgnoreCase)
                             && string.Equals(c.Metric, metric, StringComparison.OrdinalIgnoreCase));

    /// <summary>Parses the data file format (comment lines start with '#').</summary>
    public static IReadOnlyList<PaperCell> Parse(string text, string name = "paper-numbers.csv")
    {
        var cells = new List<PaperCell>();
        int lineNo = 0;
        bool header = true;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (header) { header = false; continue; }
            var f = line.Split(',', 6);
            if (f.Length != 6) throw new InvalidDataException($"{name}:{lineNo}: expected 6 fields (dataset,model,metric,value,approx,source), got {f.Length}.");
            if (!double.TryParse(f[3], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                throw new InvalidDataException($"{name}:{lineNo}: value '{f[3]}' is not a number.");
            cells.Add(new PaperCell(f[0], f[1], f[2], v, f[4] == "true", f[5]));
        }
        return cells;
    }

    private static IReadOnlyList<PaperCell> Load()
    {
        using var s = typeof(PaperNumbers).Assembly.GetManifestResourceStream("Lrml.Reproduction.paper-numbers.csv")
                      ?? throw new InvalidOperationException("paper-numbers.csv is not embedded in the Lrml assembly.");
        using var r = new StreamReader(s);
        return Parse(r.ReadToEnd());
    }
}

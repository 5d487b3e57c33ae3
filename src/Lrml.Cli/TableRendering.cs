using Lrml.Experiments;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Lrml.Cli;

/// <summary>
/// Prints result tables so that they fit the terminal. A table wider than the terminal is not squeezed (Spectre
/// would shrink its columns to fragments like "d… p… H…"): its columns are cut into consecutive parts, each part
/// repeating the row-identifying columns (the leading text columns); a table whose identifying columns alone do not
/// fit is printed vertically, one block of "column: value" lines per row. The files a command writes (CSV, Markdown)
/// always keep the whole table.
/// </summary>
internal static class TableRendering
{
    /// <summary>Width used when the output is not a terminal (logs, pipes, CI): what a reader's terminal shows.</summary>
    public const int RedirectedWidth = 100;

    /// <summary>The width to fit: the terminal's, or <see cref="RedirectedWidth"/> when the output is redirected.</summary>
    public static int OutputWidth => Console.IsOutputRedirected ? RedirectedWidth : Math.Max(40, AnsiConsole.Profile.Width);

    /// <summary>Prints a ResultTable as one or more console tables that fit the output width, with its notes.</summary>
    public static void Write(ResultTable t) => Write(AnsiConsole.Console, t, OutputWidth);

    /// <summary>Renders <paramref name="t"/> into <paramref name="console"/> within <paramref name="width"/> columns.</summary>
    public static void Write(IAnsiConsole console, ResultTable t, int width)
    {
        if (t.Rows.Count == 0 || t.Columns.Count == 0)
        {
            // an empty grid says nothing (and a table without columns renders as a column of ellipses): the title and why
            console.MarkupLine($"[bold]{Markup.Escape(t.Title)}[/]: no rows.");
            foreach (var n in t.Notes) console.MarkupLine($"[grey]{Markup.Escape(n)}[/]");
            return;
        }
        var cells = new string[t.Rows.Count][];
        for (int r = 0; r < t.Rows.Count; r++) cells[r] = t.Columns.Select(c => t.Text(r, c)).ToArray();
        var numeric = t.Columns.Select(t.IsNumeric).ToArray();
        foreach (var part in Layout(t.Title, t.Columns, cells, numeric, width)) console.Write(part);
        foreach (var n in t.Notes) console.MarkupLine($"[grey]{Markup.Escape(n)}[/]");
    }

    /// <summary>The renderables that show a table within <paramref name="width"/> columns (see the class summary).</summary>
    public static IReadOnlyList<IRenderable> Layout(string title, IReadOnlyList<string> columns, string[][] rows, bool[] numeric, int width)
    {
        int n = columns.Count;
        var natural = new int[n];
        for (int c = 0; c < n; c++)
            natural[c] = Math.Max(columns[c].Length, rows.Length == 0 ? 0 : rows.Max(r => r[c].Length));
        // a rounded Spectre table: one border char left, then per column " text " and a separator
        static int Width(IEnumerable<int> cols) => 1 + cols.Sum(w => w + 3);

        var all = Enumerable.Range(0, n).ToArray();
        if (Width(all.Select(c => natural[c])) <= width) return [Build(title, columns, rows, numeric, all)];

        int keys = 0;
        while (keys < n - 1 && !numeric[keys] && keys < 2) keys++;
        var keyCols = Enumerable.Range(0, keys).ToArray();
        int keyWidth = Width(keyCols.Select(c => natural[c])) - (keys == 0 ? 1 : 0);
        var parts = new List<int[]>();
        var current = new List<int>();
        int used = keyWidth;
        for (int c = keys; c < n; c++)
        {
            int w = natural[c] + 3;
            if (current.Count > 0 && used + w > width) { parts.Add([.. keyCols, .. current]); current.Clear(); used = keyWidth; }
            if (used + w > width) return [Vertical(title, columns, rows)];
            current.Add(c); used += w;
        }
        if (current.Count > 0) parts.Add([.. keyCols, .. current]);
        return parts.Select((p, i) => (IRenderable)Build(parts.Count == 1 ? title : $"{title} (part {i + 1} of {parts.Count})", columns, rows, numeric, p)).ToList();
    }

    private static Table Build(string title, IReadOnlyList<string> columns, string[][] rows, bool[] numeric, int[] which)
    {
        var table = new Table().Border(TableBorder.Rounded);
        if (!string.IsNullOrEmpty(title)) table.Title(Markup.Escape(title));
        foreach (int c in which)
        {
            var col = new TableColumn(Markup.Escape(columns[c])).NoWrap();
            if (numeric[c]) col.RightAligned();
            table.AddColumn(col);
        }
        foreach (var r in rows) table.AddRow(which.Select(c => Markup.Escape(r[c])).ToArray());
        return table;
    }

    private static IRenderable Vertical(string title, IReadOnlyList<string> columns, string[][] rows)
    {
        int label = columns.Max(c => c.Length);
        var lines = new List<IRenderable>();
        if (!string.IsNullOrEmpty(title)) lines.Add(new Markup($"[bold]{Markup.Escape(title)}[/]"));
        for (int r = 0; r < rows.Length; r++)
        {
            lines.Add(new Text(""));
            for (int c = 0; c < columns.Count; c++)
                if (rows[r][c].Length > 0) lines.Add(new Text($"{columns[c].PadLeft(label)}  {rows[r][c]}"));
        }
        return new Rows(lines);
    }
}

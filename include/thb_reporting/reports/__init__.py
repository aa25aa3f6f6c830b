"""What the outputs show people, shared by publishing, messaging and the UI: the HTML pages (page_templates/),
the SVG charts and the number formats, and the published national figures as pages read them.
May import: core, figures, store, reading, validation."""

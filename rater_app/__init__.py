"""Human rating studies: design, storage, the Gradio app, admin and export."""
